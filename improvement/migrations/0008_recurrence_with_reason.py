"""A recurrence link says why, and can be undone: the plain many-to-many table becomes the Recurrence model.

The table improvement_action_recurrences and its rows stay (columns id, action_id, incident_id, and the
unique pair); Django's picture of it becomes a model, then the new columns are added for real.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0007_check_comparison_group"),
        ("incidents", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Recurrence",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "action",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="recurrence_links",
                                to="improvement.action",
                            ),
                        ),
                        (
                            "incident",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="recurrence_links",
                                to="incidents.incident",
                            ),
                        ),
                    ],
                    options={"db_table": "improvement_action_recurrences"},
                ),
                migrations.AlterField(
                    model_name="action",
                    name="recurrences",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="recurred_actions",
                        through="improvement.Recurrence",
                        through_fields=("action", "incident"),
                        to="incidents.incident",
                    ),
                ),
                # The table already has this unique pair (under Django's generated name).
                migrations.AddConstraint(
                    model_name="recurrence",
                    constraint=models.UniqueConstraint(fields=("action", "incident"), name="recurrence_once_per_incident"),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="recurrence",
            name="match",
            field=models.CharField(
                blank=True,
                choices=[("exact", "same cause"), ("rate", "rate back at its baseline")],
                max_length=8,
                verbose_name="match",
            ),
        ),
        migrations.AddField(
            model_name="recurrence",
            name="reason",
            field=models.CharField(blank=True, max_length=300, verbose_name="why"),
        ),
        migrations.AddField(
            model_name="recurrence",
            name="created_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="linked at"),
        ),
        migrations.AddField(
            model_name="recurrence",
            name="dismissed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="marked not a recurrence at"),
        ),
        migrations.AddField(
            model_name="recurrence",
            name="dismiss_reason",
            field=models.TextField(blank=True, verbose_name="why it is not a recurrence"),
        ),
        migrations.AddField(
            model_name="recurrence",
            name="dismissed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
