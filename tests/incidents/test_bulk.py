"""The batch by-ref upsert (incidents.bulk): the one-row rules, one batch of writes, each row its outcome."""

import datetime as dt
import math

import pytest
from django.db import IntegrityError, connection
from django.db.models import QuerySet

from improvement.models import Action
from incidents import bulk
from incidents import services as incident_services
from incidents.models import Change, Incident, TimelineEvent
from tests.factories import IncidentFactory, ProblemFactory, ServiceFactory
from tests.improvement.test_recurrence import standardised
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
COMPARED = ["title", "summary", "severity", "status", "service_id", "problem_id", "started_at", "detected_at"]
COMPARED += ["acknowledged_at", "mitigated_at", "resolved_at", "url", "source", "external_id", "created_by_id"]


def rows(service, n=3):
    return [
        {
            "external_id": f"OPS-{i}",
            "title": f"Gateway 502s {i}",
            "severity": "SEV2",
            "status": "resolved",
            "service": service,
            "started_at": T0 + dt.timedelta(hours=i),
            "resolved_at": T0 + dt.timedelta(hours=i, minutes=40),
            "mitigated_at": T0 + dt.timedelta(hours=i, minutes=30),
        }
        for i in range(n)
    ]


def snapshot(incidents: QuerySet) -> list[tuple]:
    return [tuple(getattr(i, name) for name in COMPARED) for i in incidents.order_by("external_id")]


def test_a_batch_writes_what_the_one_row_upsert_writes(team, other_team, lead):
    service = ServiceFactory(team=team)
    twin = ServiceFactory(team=other_team, name=service.name, slug=service.slug)
    for row in rows(twin):
        row = dict(row, service=ServiceFactory(team=other_team))
        incident_services.upsert_incident_by_ref(team=other_team, source="jira", by=lead, **row)
    outcomes = bulk.upsert_incidents_by_ref(team=team, source="jira", rows=rows(service), by=lead)
    assert [(o.created, o.errors) for o in outcomes] == [(True, {})] * 3
    batch = snapshot(Incident.objects.filter(team=team))
    one_by_one = snapshot(Incident.objects.filter(team=other_team))
    # Everything equal but the service (each team's own).
    service_at = COMPARED.index("service_id")
    assert [r[:service_at] + r[service_at + 1 :] for r in batch] == [
        r[:service_at] + r[service_at + 1 :] for r in one_by_one
    ]
    assert {i.detected_at == i.started_at for i in Incident.objects.filter(team=team)} == {True}


def test_a_refused_row_is_reported_and_the_others_are_written(team, other_team):
    service, foreign = ServiceFactory(team=team), ServiceFactory(team=other_team)
    batch = rows(service, 4)
    batch[1]["resolved_at"] = T0 - dt.timedelta(days=1)  # before the start
    batch[2]["service"] = foreign  # another team's
    batch[3]["external_id"] = ""
    outcomes = bulk.upsert_incidents_by_ref(team=team, source="jira", rows=batch)
    assert outcomes[0].created and not outcomes[0].errors
    assert "resolved_at" in outcomes[1].errors
    assert outcomes[2].errors == {"service": "This belongs to another team."}
    assert "external_id" in outcomes[3].errors
    assert list(Incident.objects.filter(team=team).values_list("external_id", flat=True)) == ["OPS-0"]


def test_an_update_changes_only_the_fields_sent_and_writes_the_status_change(team):
    service = ServiceFactory(team=team)
    existing = IncidentFactory(
        team=team, service=service, source="jira", external_id="OPS-7", title="Old", status="open", started_at=T0
    )
    outcomes = bulk.upsert_incidents_by_ref(
        team=team,
        source="jira",
        rows=[{"external_id": "OPS-7", "status": "mitigated", "mitigated_at": T0 + dt.timedelta(minutes=20)}],
    )
    assert (outcomes[0].created, outcomes[0].errors) == (False, {})
    existing.refresh_from_db()
    assert (existing.title, existing.status, existing.mitigated_at) == (
        "Old",
        "mitigated",
        T0 + dt.timedelta(minutes=20),
    )
    event = TimelineEvent.objects.get(incident=existing)
    assert (event.kind, event.data) == (TimelineEvent.Kind.STATUS, {"status": ["open", "mitigated"]})


def test_the_same_reference_twice_in_a_batch_is_one_record_created_then_updated(team):
    service = ServiceFactory(team=team)
    first, again = rows(service, 1)[0], {"external_id": "OPS-0", "title": "Gateway 502s, renamed", "status": "closed"}
    outcomes = bulk.upsert_incidents_by_ref(team=team, source="jira", rows=[first, again])
    assert [o.created for o in outcomes] == [True, False]
    incident = Incident.objects.get(team=team)
    assert (incident.title, incident.status) == ("Gateway 502s, renamed", "closed")
    assert outcomes[0].record.pk == outcomes[1].record.pk == incident.pk
    assert list(TimelineEvent.objects.filter(incident=incident).values_list("data", flat=True)) == [
        {"status": ["resolved", "closed"]}
    ]


def test_a_batch_costs_the_same_queries_whatever_its_size(team, django_assert_num_queries):
    service = ServiceFactory(team=team)
    problem = ProblemFactory(team=team)
    small, large = rows(service, 5), rows(service, 120)
    for row in small + large:
        row["problem"] = problem
    for row in large:
        row["external_id"] += "-large"
    # savepoint, lookup, release, and the INSERTs: one per BATCH rows (fewer rows each on SQLite,
    # which caps the parameters of a statement).
    columns = [f for f in Incident._meta.concrete_fields if not f.primary_key]
    per_insert = min(bulk.BATCH, connection.ops.bulk_batch_size(columns, large) or bulk.BATCH)
    with django_assert_num_queries(3 + math.ceil(len(small) / per_insert)):
        bulk.upsert_incidents_by_ref(team=team, source="jira", rows=small)
    with django_assert_num_queries(3 + math.ceil(len(large) / per_insert)):
        bulk.upsert_incidents_by_ref(team=team, source="jira", rows=large)
    if connection.vendor == "postgresql":
        assert per_insert >= len(large)  # one INSERT for the 120 rows: the cost does not grow with the batch
    assert Incident.objects.filter(team=team).count() == 125


def test_when_the_database_refuses_the_batch_each_row_is_applied_alone(team, monkeypatch):
    service = ServiceFactory(team=team)
    real = Incident.objects.bulk_create

    def refused_once(objs, *args, **kwargs):
        monkeypatch.setattr(type(Incident.objects), "bulk_create", lambda self, *a, **k: real(*a, **k))
        raise IntegrityError("duplicate key value violates unique constraint (a concurrent writer)")

    monkeypatch.setattr(type(Incident.objects), "bulk_create", lambda self, objs, *a, **k: refused_once(objs))
    batch = rows(service, 3)
    batch[1]["resolved_at"] = T0 - dt.timedelta(days=1)
    outcomes = bulk.upsert_incidents_by_ref(team=team, source="jira", rows=batch)
    assert [bool(o.errors) for o in outcomes] == [False, True, False]
    assert sorted(Incident.objects.filter(team=team).values_list("external_id", flat=True)) == ["OPS-0", "OPS-2"]


def test_changes_in_a_batch_keep_the_deploy_after_commit_rule(team):
    service = ServiceFactory(team=team)
    outcomes = bulk.upsert_changes_by_ref(
        team=team,
        source="github",
        rows=[
            {"external_id": "d-1", "title": "Deploy 1", "service": service, "deployed_at": T0, "committed_at": T0},
            {"external_id": "d-2", "title": "Deploy 2", "deployed_at": T0, "committed_at": T0 + dt.timedelta(1)},
        ],
    )
    assert [bool(o.errors) for o in outcomes] == [False, True]
    assert "deployed_at" in outcomes[1].errors
    assert list(Change.objects.filter(team=team).values_list("external_id", flat=True)) == ["d-1"]


def test_recurrence_is_checked_for_the_batch_after_it_commits(django_capture_on_commit_callbacks):
    action = standardised()
    team, service = action.team, action.target_service
    elsewhere = ServiceFactory(team=team)
    batch = [
        {"external_id": "late", "title": "Back again", "service": service, "started_at": at("2026-03-10 08:00")},
        {"external_id": "early", "title": "Before", "service": service, "started_at": at("2026-02-20 08:00")},
        {"external_id": "other", "title": "Elsewhere", "service": elsewhere, "started_at": at("2026-03-11 08:00")},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        bulk.upsert_incidents_by_ref(team=team, source="sheet", rows=batch)
    action.refresh_from_db()
    assert action.recurred_at is not None
    assert [i.external_id for i in action.recurrences.all()] == ["late"]
    assert Action.objects.filter(previous_cycle=action).count() == 1


def test_the_same_rows_again_write_nothing(team, django_assert_num_queries):
    service = ServiceFactory(team=team)
    bulk.upsert_incidents_by_ref(team=team, source="jira", rows=rows(service, 30))
    before = list(Incident.objects.filter(team=team).values_list("updated_at", flat=True))
    with django_assert_num_queries(3):  # savepoint, the locked lookup, release: no UPDATE
        outcomes = bulk.upsert_incidents_by_ref(team=team, source="jira", rows=rows(service, 30))
    assert {(o.created, bool(o.errors)) for o in outcomes} == {(False, False)}
    assert list(Incident.objects.filter(team=team).values_list("updated_at", flat=True)) == before
