"""Integrations, webhook deliveries and outgoing webhooks move to the integrations app."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0007_webhook_delivery_log"),
    ]

    operations = [
        # The tables stay where they are (db_table): only Django's picture of the models moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="integration",
                ),
                migrations.RemoveField(
                    model_name="outgoingdelivery",
                    name="endpoint",
                ),
                migrations.RemoveField(
                    model_name="outgoingwebhook",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="team",
                ),
                migrations.DeleteModel(
                    name="Integration",
                ),
                migrations.DeleteModel(
                    name="OutgoingDelivery",
                ),
                migrations.DeleteModel(
                    name="OutgoingWebhook",
                ),
                migrations.DeleteModel(
                    name="WebhookDelivery",
                ),
            ],
            database_operations=[],
        ),
    ]
