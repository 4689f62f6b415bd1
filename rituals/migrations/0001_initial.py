"""The rituals app takes over its models and their tables from improvement."""

import core.egress
import core.signing
import django.db.models.deletion
import teams.models
from django.conf import settings
from django.db import migrations, models


MODELS = ["ritual", "reviewsession", "reviewdecision", "calendarfeed", "notification"]


def move_content_types(apps, schema_editor, *, old, new):
    """Content types, hence permissions, admin log entries and audit history, follow the models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def forwards(apps, schema_editor):
    move_content_types(apps, schema_editor, old="improvement", new="rituals")


def backwards(apps, schema_editor):
    move_content_types(apps, schema_editor, old="rituals", new="improvement")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("improvement", "0005_rituals_move_to_their_app"),
        ("teams", "0008_integrations_move_to_their_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The tables stay where they are (db_table): only Django's picture of the models moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CalendarFeed",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "label",
                            models.CharField(
                                blank=True,
                                help_text="Who or what uses this address.",
                                max_length=100,
                                verbose_name="label",
                            ),
                        ),
                        (
                            "token",
                            models.CharField(
                                default=core.signing.new_feed_token,
                                editable=False,
                                max_length=64,
                                unique=True,
                                verbose_name="token",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="revoked at")),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="calendar_feeds",
                                to="teams.team",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "calendar feed",
                        "db_table": "improvement_calendarfeed",
                        "ordering": ["team__name", "-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="Ritual",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100, verbose_name="name")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("weekly_review", "weekly review board"),
                                    ("postmortem_review", "postmortem review"),
                                    ("monthly_ops_review", "monthly operations review"),
                                ],
                                default="weekly_review",
                                max_length=20,
                                verbose_name="kind",
                            ),
                        ),
                        (
                            "weekday",
                            models.PositiveSmallIntegerField(
                                blank=True,
                                choices=[
                                    (0, "Monday"),
                                    (1, "Tuesday"),
                                    (2, "Wednesday"),
                                    (3, "Thursday"),
                                    (4, "Friday"),
                                    (5, "Saturday"),
                                    (6, "Sunday"),
                                ],
                                null=True,
                                verbose_name="weekday",
                            ),
                        ),
                        ("time_of_day", models.TimeField(blank=True, null=True, verbose_name="time")),
                        (
                            "rrule",
                            models.TextField(
                                blank=True,
                                help_text="RFC 5545 recurrence rule; overrides weekday + time.",
                                verbose_name="RRULE",
                            ),
                        ),
                        (
                            "timezone",
                            models.CharField(
                                default="UTC",
                                max_length=64,
                                validators=[teams.models.validate_timezone],
                                verbose_name="time zone",
                            ),
                        ),
                        (
                            "duration_minutes",
                            models.PositiveSmallIntegerField(default=60, verbose_name="duration (minutes)"),
                        ),
                        ("notify_email", models.BooleanField(default=True, verbose_name="notify by email")),
                        (
                            "chat_webhook_url",
                            models.URLField(
                                blank=True,
                                help_text="A Slack, Mattermost or Teams incoming webhook, on a public address (internal ones are refused).",
                                max_length=500,
                                validators=[core.egress.validate_outgoing_url],
                                verbose_name="chat webhook URL",
                            ),
                        ),
                        ("active", models.BooleanField(default=True, verbose_name="active")),
                        (
                            "next_occurrence",
                            models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="next occurrence"),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "stale_after_days",
                            models.PositiveSmallIntegerField(
                                default=14,
                                help_text="An open action with no stage move for this many days shows on the agenda as stale.",
                                verbose_name="stale after (days)",
                            ),
                        ),
                        (
                            "schedule_key",
                            models.CharField(
                                blank=True,
                                editable=False,
                                help_text="Fingerprint of the schedule next_occurrence was computed from; a mismatch means recompute.",
                                max_length=64,
                            ),
                        ),
                        (
                            "attendees",
                            models.ManyToManyField(blank=True, related_name="rituals", to=settings.AUTH_USER_MODEL),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="rituals", to="teams.team"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "improvement_ritual",
                        "ordering": ["team__name", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="ReviewSession",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("occurrence", models.DateTimeField(verbose_name="occurrence")),
                        (
                            "status",
                            models.CharField(
                                choices=[("open", "open"), ("closed", "closed")],
                                default="open",
                                max_length=10,
                                verbose_name="status",
                            ),
                        ),
                        ("opened_at", models.DateTimeField(auto_now_add=True, verbose_name="opened at")),
                        ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="closed at")),
                        ("agenda", models.JSONField(blank=True, default=dict, verbose_name="agenda")),
                        ("notes", models.TextField(blank=True, verbose_name="notes")),
                        ("summary", models.TextField(blank=True, verbose_name="summary")),
                        (
                            "attendees",
                            models.ManyToManyField(blank=True, related_name="+", to=settings.AUTH_USER_MODEL),
                        ),
                        (
                            "previous",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="next_session",
                                to="rituals.reviewsession",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_sessions",
                                to="teams.team",
                            ),
                        ),
                        (
                            "ritual",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sessions",
                                to="rituals.ritual",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "improvement_reviewsession",
                        "ordering": ["-occurrence", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("session_opened", "review session opened"),
                                    ("action_due_soon", "action due soon"),
                                    ("action_overdue", "action overdue"),
                                    ("postmortem_draft", "postmortem still in draft"),
                                ],
                                max_length=20,
                                verbose_name="kind",
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                choices=[("email", "email"), ("chat", "chat webhook")],
                                max_length=10,
                                verbose_name="channel",
                            ),
                        ),
                        (
                            "object_id",
                            models.PositiveBigIntegerField(
                                help_text="The session, action or postmortem.", verbose_name="object id"
                            ),
                        ),
                        (
                            "period",
                            models.CharField(
                                blank=True,
                                help_text="e.g. 2026-W48 for reminders.",
                                max_length=20,
                                verbose_name="period",
                            ),
                        ),
                        (
                            "recipient",
                            models.CharField(
                                help_text="Email address or webhook URL.", max_length=500, verbose_name="recipient"
                            ),
                        ),
                        ("subject", models.CharField(max_length=200, verbose_name="subject")),
                        ("body", models.TextField(verbose_name="body")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "pending"),
                                    ("sending", "sending"),
                                    ("sent", "sent"),
                                    ("failed", "failed"),
                                ],
                                default="pending",
                                max_length=10,
                                verbose_name="status",
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                        ("last_error", models.TextField(blank=True, verbose_name="last error")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="sent at")),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="teams.team",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "improvement_notification",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["status", "created_at"], name="improvement_status_9ba657_idx")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("kind", "channel", "object_id", "period", "recipient"),
                                name="notification_once_per_period",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ReviewDecision",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("item_id", models.CharField(blank=True, max_length=80, verbose_name="agenda item")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("discussed", "discussed"),
                                    ("moved", "stage moved"),
                                    ("assigned", "assigned"),
                                    ("redated", "re-dated"),
                                    ("action_created", "action created"),
                                ],
                                max_length=20,
                                verbose_name="kind",
                            ),
                        ),
                        ("text", models.TextField(blank=True, verbose_name="decision")),
                        ("at", models.DateTimeField(verbose_name="at")),
                        (
                            "action",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="improvement.action",
                            ),
                        ),
                        (
                            "by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="teams.team"
                            ),
                        ),
                        (
                            "session",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="decisions",
                                to="rituals.reviewsession",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "improvement_reviewdecision",
                        "ordering": ["at", "id"],
                        "indexes": [models.Index(fields=["session", "item_id"], name="improvement_session_ae7c12_idx")],
                    },
                ),
                migrations.AddConstraint(
                    model_name="reviewsession",
                    constraint=models.UniqueConstraint(
                        fields=("ritual", "occurrence"), name="review_session_unique_ritual_occurrence"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
