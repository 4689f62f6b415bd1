"""A database created and filled on the layout before the apps were split migrates forward unchanged.

The models of integrations/ lived in teams/, those of rituals/ in improvement/. Their tables stay
(db_table); content types, permissions and audit history follow the models.
"""

import datetime as dt
import json

import pytest
from auditlog.models import LogEntry
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from teams import backup
from teams.models import Team

OLD_LAYOUT = [
    ("teams", "0007_webhook_delivery_log"),
    ("incidents", "0001_initial"),
    ("improvement", "0004_outgoing_url_guard"),
    ("integrations", None),
    ("rituals", None),
]
MOVED = {
    "teams.integration": "integrations.integration",
    "teams.webhookdelivery": "integrations.webhookdelivery",
    "teams.outgoingwebhook": "integrations.outgoingwebhook",
    "improvement.ritual": "rituals.ritual",
    "improvement.reviewsession": "rituals.reviewsession",
    "improvement.calendarfeed": "rituals.calendarfeed",
    "improvement.notification": "rituals.notification",
}
TABLES = [
    "teams_integration",
    "teams_webhookdelivery",
    "teams_outgoingwebhook",
    "improvement_ritual",
    "improvement_ritual_attendees",
    "improvement_reviewsession",
    "improvement_calendarfeed",
    "improvement_notification",
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([target for target in targets if target[1]]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _rows(table, columns=None):
    """The table's rows; with `columns`, only those (later migrations may add columns with defaults)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - our own table names
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    if columns is None:
        return names, rows
    keep = [names.index(name) for name in columns]
    return [tuple(row[i] for i in keep) for row in rows]


def _fill_old_layout(old):
    """Rows of every moved model, written with the models as they were before the move."""
    user = old.get_model("auth", "User").objects.create(username="lea", email="lea@example.com")
    team = old.get_model("teams", "Team").objects.create(name="Payments", slug="payments", timezone="Europe/Paris")
    old.get_model("teams", "Membership").objects.create(team=team, user=user, role="lead")
    integration = old.get_model("teams", "Integration").objects.create(team=team, source="github", secret="s3cret")
    old.get_model("teams", "WebhookDelivery").objects.create(
        integration=integration, team=team, event="push", outcome="processed", body="{}"
    )
    old.get_model("teams", "OutgoingWebhook").objects.create(team=team, url="https://hooks.example.com/x", secret="k")
    ritual = old.get_model("improvement", "Ritual").objects.create(
        team=team, name="Weekly review", kind="weekly_review", weekday=0, time_of_day=dt.time(10), timezone="UTC"
    )
    ritual.attendees.add(user)
    old.get_model("improvement", "ReviewSession").objects.create(
        team=team, ritual=ritual, occurrence=dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC), agenda={"items": []}
    )
    old.get_model("improvement", "CalendarFeed").objects.create(team=team, label="Team calendar", token="tok-1")
    old.get_model("improvement", "Notification").objects.create(
        team=team,
        kind="session_opened",
        channel="email",
        object_id=1,
        recipient="lea@example.com",
        subject="s",
        body="b",
    )
    # contenttypes and auth did not change: their current models write the rows of the old layout.
    content_type, _created = ContentType.objects.get_or_create(app_label="improvement", model="ritual")
    permission = Permission.objects.get(content_type=content_type, codename="change_ritual")
    get_user_model().objects.get(pk=user.pk).user_permissions.add(permission)
    return team, user, content_type, ritual


def _serialized(registry, labels, team_id):
    """The team's rows of these models as a backup writes them, keyed by the label they have now."""
    found = {}
    for label, new_label in labels.items():
        model = registry.get_model(*label.split("."))
        queryset = model.objects.filter(team_id=team_id).order_by("pk")
        for row in json.loads(serializers.serialize("json", queryset, cls=backup.LosslessEncoder)):
            found[(new_label, row["pk"])] = row["fields"]
    return found


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_keeps_its_rows_content_types_and_audit_history(client):
    try:
        old = _migrate(OLD_LAYOUT)
        team, user, content_type, ritual = _fill_old_layout(old)
        LogEntry.objects.create(
            content_type_id=content_type.pk,
            object_pk=str(ritual.pk),
            object_id=ritual.pk,
            object_repr="Weekly review",
            action=LogEntry.Action.UPDATE,
            changes={"name": ["Weekly", "Weekly review"]},
            additional_data={"team_id": team.pk},
        )
        tables_before = {table: _rows(table) for table in TABLES}  # (columns, rows)
        export_before = _serialized(old, MOVED, team.pk)

        _migrate(_latest())

        assert {table: _rows(table, columns) for table, (columns, _rows_) in tables_before.items()} == {
            table: rows for table, (_columns, rows) in tables_before.items()
        }
        export_after = _serialized(django_apps, {label: label for label in MOVED.values()}, team.pk)
        # Fields added by later migrations (with their defaults) are new; every field that was there is kept.
        assert set(export_after) == set(export_before)
        assert {
            key: {f: export_after[key][f] for f in fields} for key, fields in export_before.items()
        } == export_before
        assert len(export_after) == len(MOVED)
        rows = json.loads(backup.export_team(Team.objects.get(pk=team.pk)))
        assert set(export_after) <= {(row["model"], row.get("pk")) for row in rows}

        moved_type = ContentType.objects.get(pk=content_type.pk)
        assert (moved_type.app_label, moved_type.model) == ("rituals", "ritual")
        assert not ContentType.objects.filter(app_label="improvement", model="ritual").exists()
        assert Permission.objects.get(codename="change_ritual").content_type_id == content_type.pk
        moved_user = get_user_model().objects.get(pk=user.pk)
        assert moved_user.has_perm("rituals.change_ritual")

        entry = LogEntry.objects.get(object_pk=str(ritual.pk), content_type_id=content_type.pk)
        assert entry.content_type.model_class().__module__ == "rituals.models"
        client.force_login(moved_user)
        page = client.get(reverse("teams:audit_log", args=["payments"])).content.decode()
        assert "Weekly review" in page and "Weekly → Weekly review" in page.replace("<strong>name</strong>: ", "")
    finally:
        _migrate(_latest())


def test_an_export_written_before_the_split_still_imports(db):
    rows = [
        {
            "model": "teams.team",
            "pk": 900,
            "fields": {"name": "Legacy", "slug": "legacy", "timezone": "UTC", "created_at": "2026-01-01T00:00:00Z"},
        },
        {
            "model": "teams.integration",
            "pk": 901,
            "fields": {
                "team": 900,
                "source": "jira",
                "public_id": "6f1f9b1e-8a6b-4c3f-9d2a-0d3c2b1a0f01",
                "secret": "x",
                "active": True,
                "created_at": "2026-01-01T00:00:00Z",
            },
        },
    ]
    team = backup.import_team(json.dumps(rows))
    assert list(team.integrations.values_list("pk", "source")) == [(901, "jira")]
