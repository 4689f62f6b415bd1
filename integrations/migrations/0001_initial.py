"""The integrations app takes over its models and their tables from teams."""

import core.egress
import core.signing
import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models


MODELS = ["integration", "webhookdelivery", "outgoingwebhook", "outgoingdelivery"]


def move_content_types(apps, schema_editor, *, old, new):
    """Content types, hence permissions, admin log entries and audit history, follow the models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    move_content_types(apps, schema_editor, old="teams", new="integrations")


def backwards(apps, schema_editor):
    move_content_types(apps, schema_editor, old="integrations", new="teams")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("teams", "0008_integrations_move_to_their_app"),
    ]

    operations = [
        # The tables stay where they are (db_table): only Django's picture of the models moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Integration",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("jira", "Jira"),
                                    ("github", "GitHub"),
                                    ("pagerduty", "PagerDuty"),
                                    ("servicenow", "ServiceNow"),
                                    ("generic", "generic JSON"),
                                ],
                                max_length=12,
                                verbose_name="source",
                            ),
                        ),
                        (
                            "public_id",
                            models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="hook id"),
                        ),
                        (
                            "secret",
                            models.CharField(
                                default=core.signing.new_webhook_secret, max_length=200, verbose_name="signing secret"
                            ),
                        ),
                        ("active", models.BooleanField(default=True, verbose_name="active")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="integrations",
                                to="teams.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "teams_integration",
                        "ordering": ["team__name", "source"],
                    },
                ),
                migrations.CreateModel(
                    name="OutgoingWebhook",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "url",
                            models.URLField(
                                help_text="An http(s) URL on a public address (internal ones are refused).",
                                max_length=500,
                                validators=[core.egress.validate_outgoing_url],
                                verbose_name="URL",
                            ),
                        ),
                        (
                            "secret",
                            models.CharField(
                                default=core.signing.new_webhook_secret, max_length=200, verbose_name="signing secret"
                            ),
                        ),
                        (
                            "events",
                            models.JSONField(
                                blank=True, default=list, help_text="Empty means every event.", verbose_name="events"
                            ),
                        ),
                        ("active", models.BooleanField(default=True, verbose_name="active")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="outgoing_webhooks",
                                to="teams.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "teams_outgoingwebhook",
                        "ordering": ["team__name", "url"],
                    },
                ),
                migrations.CreateModel(
                    name="OutgoingDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("event", models.CharField(max_length=40)),
                        ("event_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("payload", models.JSONField(default=dict)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "pending"),
                                    ("delivered", "delivered"),
                                    ("failed", "failed (gave up)"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("claimed_until", models.DateTimeField(blank=True, null=True)),
                        (
                            "endpoint",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="integrations.outgoingwebhook",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "outgoing deliveries",
                        "db_table": "teams_outgoingdelivery",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("received_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "vendor_delivery_id",
                            models.CharField(blank=True, max_length=200, verbose_name="vendor delivery id"),
                        ),
                        ("event", models.CharField(blank=True, max_length=100, verbose_name="event")),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        ("body", models.TextField(blank=True)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("queued", "queued (accepted, not applied yet)"),
                                    ("processed", "processed"),
                                    ("ignored", "ignored (event not used)"),
                                    ("duplicate", "duplicate (already processed)"),
                                    ("failed", "failed (rejected by the domain rules)"),
                                    ("refused", "refused (signature, timestamp or format)"),
                                ],
                                max_length=10,
                                verbose_name="outcome",
                            ),
                        ),
                        ("error", models.TextField(blank=True, verbose_name="error")),
                        ("result", models.JSONField(blank=True, default=dict)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "integration",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="integrations.integration",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="teams.team"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "webhook deliveries",
                        "db_table": "teams_webhookdelivery",
                        "ordering": ["-received_at", "-id"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="integration",
                    constraint=models.UniqueConstraint(
                        fields=("team", "source"), name="integration_unique_team_source"
                    ),
                ),
                migrations.AddIndex(
                    model_name="outgoingdelivery",
                    index=models.Index(fields=["status", "next_attempt_at"], name="teams_outgoing_due_idx"),
                ),
                migrations.AddIndex(
                    model_name="outgoingdelivery",
                    index=models.Index(fields=["created_at"], name="teams_outgoing_created_idx"),
                ),
                migrations.AddIndex(
                    model_name="webhookdelivery",
                    index=models.Index(fields=["integration", "-received_at", "-id"], name="webhook_delivery_log"),
                ),
                migrations.AddIndex(
                    model_name="webhookdelivery",
                    index=models.Index(
                        condition=models.Q(("outcome", "queued")),
                        fields=["integration", "id"],
                        name="webhook_delivery_inbox",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="webhookdelivery",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(
                            models.Q(("vendor_delivery_id", ""), _negated=True),
                            ("outcome__in", ["queued", "processed", "ignored", "failed"]),
                        ),
                        fields=("integration", "vendor_delivery_id"),
                        name="webhook_delivery_unique_vendor_id",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
