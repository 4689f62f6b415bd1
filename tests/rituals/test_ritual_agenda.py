"""Opening a session freezes its agenda; `changes_since_freeze` tells what moved since."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from improvement import services
from improvement.models import Stage, StageTransition
from incidents.models import Incident, Postmortem
from rituals import agenda, occurrences, tick
from tests import factories

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_metric_signals(request, monkeypatch):
    """The metrics module finds signals in any data; these tests list exact items (but the metric ones)."""
    if "metric" not in request.node.name:
        monkeypatch.setattr(agenda, "_metric_signals", lambda team, now: [])


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def session(team, now):
    ritual = factories.RitualFactory(team=team, stale_after_days=14)
    previous = factories.ReviewSessionFactory(ritual=ritual, occurrence=now - 7 * DAY)
    return factories.ReviewSessionFactory(ritual=ritual, occurrence=now - dt.timedelta(minutes=1), previous=previous)


def fresh_action(team, now, **fields):
    """An open action moved yesterday (so not stale), due in a fortnight (so not overdue)."""
    fields.setdefault("stage_entered_at", now - DAY)
    return factories.ActionFactory(team=team, **fields)


def ids(document):
    return [item["id"] for item in document["items"]]


def test_agenda_lists_each_kind_of_item_for_the_team_only(team, other_team, session, now):
    recent = factories.IncidentFactory(team=team, title="Gateway down", started_at=now - 2 * DAY)
    before = factories.IncidentFactory(team=team, started_at=now - 20 * DAY)  # before the previous session
    factories.IncidentFactory(team=other_team, started_at=now - DAY)  # another team
    draft = factories.PostmortemFactory(incident=recent, team=team)
    old = factories.IncidentFactory(team=team, started_at=now - 30 * DAY)
    factories.PostmortemFactory(incident=old, team=team, status=Postmortem.Status.PUBLISHED)
    overdue = fresh_action(team, now, title="Overdue", due_date=(now - 2 * DAY).date())
    stale = factories.ActionFactory(team=team, title="Stale", stage_entered_at=now - 20 * DAY)
    check_due = fresh_action(team, now, title="Window over", stage=Stage.DO, stage_entered_at=now - 30 * DAY)
    fresh_action(team, now, title="Still observing", stage=Stage.DO, check_window_days=28)
    recurred = fresh_action(team, now, title="Came back", stage=Stage.DONE, recurred_at=now - DAY)
    fresh_action(team, now, title="Fine")
    Incident.objects.filter(pk__in=[before.pk, old.pk]).update(created_at=now - 20 * DAY)
    factories.ActionFactory(team=other_team, title="Not ours", due_date=(now - 9 * DAY).date())

    document = agenda.build_agenda(session=session, now=now)

    assert document["version"] == agenda.VERSION == 2
    assert document["since"] == session.previous.occurrence.isoformat()
    # One item per object, in the order the board decides: recurrences, Check results, overdue, the rest.
    assert ids(document) == [
        f"action:{recurred.pk}",
        f"action:{check_due.pk}",
        f"action:{overdue.pk}",
        f"incident:{recent.pk}",
        f"postmortem:{draft.pk}",
        f"action:{stale.pk}",
    ]
    by_id = {item["id"]: item for item in document["items"]}
    assert by_id[f"action:{check_due.pk}"]["reasons"] == ["check_due", "stale"]
    assert by_id[f"action:{check_due.pk}"]["section"] == "checks"
    assert by_id[f"action:{recurred.pk}"]["reasons"] == ["recurrence"]
    assert by_id[f"action:{stale.pk}"]["section"] == "other"
    assert document["counts"] == {
        "carried_over": 0,
        "signals": 1,
        "checks": 1,
        "incidents": 0,
        "overdue": 1,
        "other": 3,
        "if_time_allows": 0,
    }
    incident = by_id[f"incident:{recent.pk}"]
    assert incident["title"] == "Gateway down"
    assert incident["object_id"] == recent.pk
    assert incident["data"]["service"] == recent.service.name
    assert incident["data"]["has_postmortem"] is True
    overdue_item = by_id[f"action:{overdue.pk}"]
    assert overdue_item["reasons"] == ["overdue"]
    assert overdue_item["data"]["owner"] == overdue.owner.get_username()
    assert overdue_item["data"]["due_date"] == overdue.due_date.isoformat()
    window = by_id[f"action:{check_due.pk}"]["data"]
    assert window["check_due_at"] == (check_due.stage_entered_at + 28 * DAY).astimezone(dt.UTC).isoformat()


def test_an_action_with_every_reason_is_one_item_in_its_most_pressing_section(team, session, now):
    action = factories.ActionFactory(
        team=team, stage=Stage.DO, stage_entered_at=now - 40 * DAY, due_date=(now - 3 * DAY).date()
    )
    action.recurred_at = now - DAY
    action.save(update_fields=["recurred_at"])
    document = agenda.build_agenda(session=session, now=now)
    (item,) = document["items"]
    assert item["id"] == f"action:{action.pk}" and item["section"] == "signals"
    assert item["reasons"] == ["recurrence", "check_due", "overdue", "stale"]


def test_new_major_incidents_come_before_overdue_work_and_minor_ones_after(team, session, now):
    minor = factories.IncidentFactory(team=team, severity="SEV3", started_at=now - DAY)
    major = factories.IncidentFactory(team=team, severity="SEV1", started_at=now - DAY)
    overdue = fresh_action(team, now, due_date=(now - 2 * DAY).date())
    document = agenda.build_agenda(session=session, now=now)
    assert ids(document) == [f"incident:{major.pk}", f"action:{overdue.pk}", f"incident:{minor.pk}"]
    assert [item["section"] for item in document["items"]] == ["incidents", "overdue", "other"]


def test_the_agenda_is_fitted_to_the_duration_and_the_rest_is_if_time_allows(team, session, now):
    session.ritual.duration_minutes = 10
    session.ritual.save()
    majors = [factories.IncidentFactory(team=team, severity="SEV2", started_at=now - DAY) for _i in range(2)]
    overdue = fresh_action(team, now, due_date=(now - 2 * DAY).date())
    document = agenda.build_agenda(session=session, now=now)
    assert ids(document) == [*(f"incident:{i.pk}" for i in majors), f"action:{overdue.pk}"]
    assert [(item["section"], item["minutes"]) for item in document["items"]] == [
        ("incidents", 5),
        ("incidents", 5),
        ("if_time_allows", 0),
    ]
    sections = {section["key"]: section for section in document["sections"]}
    assert sections["incidents"] == {"key": "incidents", "minutes": 10, "count": 2}
    assert sections["if_time_allows"]["count"] == 1 and document["duration_minutes"] == 10


def test_a_version_1_agenda_is_read_into_sections_with_its_ids_kept():
    v1 = {
        "version": 1,
        "items": [
            {"id": "incident:1", "kind": "incident", "object_id": 1, "title": "i", "data": {"severity": "SEV1"}},
            {"id": "action_stale:2", "kind": "action_stale", "object_id": 2, "title": "a", "data": {}},
            {"id": "action_overdue:2", "kind": "action_overdue", "object_id": 2, "title": "a", "data": {}},
            {"id": "recurrence:3", "kind": "recurrence", "object_id": 3, "title": "r", "data": {}},
        ],
    }
    read = agenda.readable(v1)
    assert [(i["id"], i["section"], i["reasons"]) for i in read["items"]] == [
        ("recurrence:3", "signals", ["recurrence"]),
        ("incident:1", "incidents", []),
        ("action_overdue:2", "overdue", ["overdue"]),
        ("action_stale:2", "other", ["stale"]),
    ]
    assert read["counts"]["other"] == 1 and read["version"] == 1


def test_incident_logged_late_is_listed_but_an_old_bulk_import_is_not(team, session, now):
    # The previous session was 7 days ago; both incidents are logged (created) now.
    logged_late = factories.IncidentFactory(team=team, started_at=now - 10 * DAY)
    imported = factories.IncidentFactory(team=team, started_at=now - 90 * DAY)
    listed = ids(agenda.build_agenda(session=session, now=now))
    assert f"incident:{logged_late.pk}" in listed
    assert f"incident:{imported.pk}" not in listed


def test_check_window_is_computed_from_the_stage_transitions(team, session, now):
    # The Do transition is 40 days old even though stage_entered_at was touched later.
    action = fresh_action(team, now, stage=Stage.DO, stage_entered_at=now - DAY)
    StageTransition.objects.filter(action=action).update(at=now - 40 * DAY)
    document = agenda.build_agenda(session=session, now=now)
    assert f"action:{action.pk}" in ids(document)


def test_first_session_looks_back_to_the_previous_occurrence_of_the_rule(team, now):
    ritual = factories.RitualFactory(team=team, timezone="UTC")
    occurrence = occurrences.previous_occurrence(ritual, at=now)
    session = factories.ReviewSessionFactory(ritual=ritual, occurrence=occurrence)
    document = agenda.build_agenda(session=session, now=now)
    assert document["since"] == (occurrence - 7 * DAY).isoformat()


def test_frozen_agenda_does_not_change_when_the_data_changes(team, lead, now):
    ritual = factories.RitualFactory(team=team)
    incident = factories.IncidentFactory(team=team, started_at=now - DAY)
    postmortem = factories.PostmortemFactory(incident=incident, team=team)
    action = fresh_action(team, now, due_date=(now - DAY).date(), owner=lead)
    (session_id,) = tick.run_tick(now=ritual.next_occurrence + dt.timedelta(seconds=1))
    from rituals.models import ReviewSession

    frozen = ReviewSession.objects.get(pk=session_id).agenda
    Postmortem.objects.filter(pk=postmortem.pk).update(status=Postmortem.Status.PUBLISHED)
    services.move_action(action=action, to_stage=Stage.DO, by=lead)
    factories.IncidentFactory(team=team, title="After the freeze")
    assert ReviewSession.objects.get(pk=session_id).agenda == frozen


def test_changes_since_freeze_names_added_removed_and_changed_items(team, lead, session, now):
    incident = factories.IncidentFactory(team=team, started_at=now - 2 * DAY)
    postmortem = factories.PostmortemFactory(incident=incident, team=team)
    action = fresh_action(team, now, due_date=(now - DAY).date(), owner=lead)
    session.agenda = agenda.build_agenda(session=session, now=now)
    session.save()

    Postmortem.objects.filter(pk=postmortem.pk).update(status=Postmortem.Status.PUBLISHED)
    services.move_action(action=action, to_stage=Stage.DO, by=lead, at=now + dt.timedelta(minutes=5))
    late = factories.IncidentFactory(team=team, title="After the freeze", started_at=now + dt.timedelta(minutes=1))

    changes = agenda.changes_since_freeze(session, now=now + dt.timedelta(minutes=10))

    assert [item["id"] for item in changes["added"]] == [f"incident:{late.pk}"]
    assert changes["removed"] == [
        {
            "id": f"postmortem:{postmortem.pk}",
            "kind": "postmortem",
            "object_id": postmortem.pk,
            "title": incident.title,
            "now": {**changes["removed"][0]["now"], "status": "published"},
        }
    ]
    moved = changes["changed"][f"action:{action.pk}"]
    assert moved["stage"] == {"before": "plan", "after": "do"}
    assert set(moved) == {"stage", "stage_entered_at", "last_moved_at", "do_entered_at", "check_due_at"}
    assert f"incident:{incident.pk}" not in changes["changed"]  # nothing moved on it


def test_added_since_freeze_is_what_changes_since_freeze_adds(team, lead, other_team, session, now):
    incident = factories.IncidentFactory(team=team, started_at=now - 2 * DAY)
    postmortem = factories.PostmortemFactory(incident=incident, team=team)
    fresh_action(team, now, title="Frozen overdue", due_date=(now - DAY).date(), owner=lead)
    session.agenda = agenda.build_agenda(session=session, now=now)
    session.save()

    Postmortem.objects.filter(pk=postmortem.pk).update(status=Postmortem.Status.PUBLISHED)  # no longer qualifies
    late = factories.IncidentFactory(team=team, title="After the freeze", started_at=now + dt.timedelta(minutes=1))
    draft = factories.PostmortemFactory(incident=late, team=team, author=lead)
    overdue = fresh_action(team, now, title="Overdue since", due_date=(now - DAY).date(), owner=lead)
    factories.IncidentFactory(team=other_team, started_at=now + dt.timedelta(minutes=1))  # another team's
    later = now + dt.timedelta(minutes=10)

    added = agenda.added_since_freeze(session, now=later)

    assert added == agenda.changes_since_freeze(session, now=later)["added"]
    by_id = {item["id"]: item for item in added}
    assert set(by_id) == {f"incident:{late.pk}", f"postmortem:{draft.pk}", f"action:{overdue.pk}"}
    assert by_id[f"postmortem:{draft.pk}"]["title"] == "After the freeze"
    assert by_id[f"postmortem:{draft.pk}"]["data"]["author"] == lead.username
    assert by_id[f"action:{overdue.pk}"]["data"]["owner"] == lead.username
    assert by_id[f"action:{overdue.pk}"]["reasons"] == ["overdue"]


def test_added_since_freeze_reads_the_same_whatever_no_longer_qualifies(team, session, now):
    incident = factories.IncidentFactory(team=team, started_at=now - 2 * DAY)
    postmortem = factories.PostmortemFactory(incident=incident, team=team)
    action = fresh_action(team, now, due_date=(now - DAY).date())
    session.agenda = agenda.build_agenda(session=session, now=now)
    session.save()

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            agenda.added_since_freeze(session, now=now)
        return len(ctx.captured_queries)

    nothing_gone = count_queries()
    Postmortem.objects.filter(pk=postmortem.pk).update(status=Postmortem.Status.PUBLISHED)
    Incident.objects.filter(pk=incident.pk).delete()
    action.delete()
    assert count_queries() == nothing_gone


def test_nothing_changed_gives_empty_changes(team, session, now):
    factories.IncidentFactory(team=team, started_at=now - DAY)
    session.agenda = agenda.build_agenda(session=session, now=now)
    session.save()
    assert agenda.changes_since_freeze(session, now=now) == {
        "as_of": now.astimezone(dt.UTC).isoformat(),
        "added": [],
        "removed": [],
        "changed": {},
    }


def test_building_the_agenda_takes_the_same_number_of_queries_for_many_items(team, session, now):
    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            agenda.build_agenda(session=session, now=now)
            agenda.changes_since_freeze(session, now=now)
        return len(ctx.captured_queries)

    factories.PostmortemFactory(team=team, incident=factories.IncidentFactory(team=team, started_at=now - DAY))
    factories.ActionFactory(team=team, due_date=(now - 3 * DAY).date())
    session.previous.agenda = agenda.build_agenda(session=session.previous, now=now - 7 * DAY)
    session.previous.save()
    session.agenda = agenda.build_agenda(session=session, now=now)
    few = count_queries()
    for _i in range(8):
        factories.PostmortemFactory(team=team, incident=factories.IncidentFactory(team=team, started_at=now - DAY))
        factories.ActionFactory(team=team, due_date=(now - 3 * DAY).date(), stage=Stage.DO)
    session.previous.agenda = agenda.build_agenda(session=session.previous, now=now - 2 * DAY)  # more carried over
    session.previous.save()
    session.agenda = agenda.build_agenda(session=session, now=now - DAY)  # stale freeze: everything differs
    many = count_queries()
    assert many == few
    assert many <= 12


def test_agenda_freezes_without_metric_signals_when_the_metrics_fail(team, session, now, monkeypatch, caplog):
    from reporting import metrics

    def broken(team, *, now):
        raise RuntimeError("metrics down")

    monkeypatch.setattr(metrics, "signals_for_team", broken)
    document = agenda.build_agenda(session=session, now=now)
    assert not [i for i in document["items"] if i["kind"] == "metric_signal"]
    assert "metric signals failed" in caplog.text


def test_a_failed_query_in_the_metric_signals_leaves_the_transaction_usable(team, session, now, monkeypatch):
    """The tick freezes the agenda in one transaction: on PostgreSQL a failed query would abort it."""
    from django.db import transaction

    from reporting import metrics

    def failing_query(team, *, now):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_for_the_metric_signals")
        return []

    monkeypatch.setattr(metrics, "signals_for_team", failing_query)
    fresh_action(team, now, title="Overdue", due_date=(now - 3 * DAY).date())
    with transaction.atomic():
        document = agenda.build_agenda(session=session, now=now)
        session.agenda = document
        session.save(update_fields=["agenda"])  # the same transaction writes the agenda afterwards
    session.refresh_from_db()
    assert "Overdue" in [item["title"] for item in session.agenda["items"]]


def test_real_metric_signals_are_frozen_with_their_label_and_week(team, session, now, monkeypatch):
    from reporting import metrics

    signal = {
        "metric": "incidents",
        "label": "Incidents per week",
        "week": "2026-11-16",
        "value": 9,
        "limit": 4.2,
        "which": "upper",
        "rule": "beyond_limit",
        "direction": "above",
    }
    monkeypatch.setattr(metrics, "signals_for_team", lambda team, *, now: [signal])
    (item,) = [i for i in agenda.build_agenda(session=session, now=now)["items"] if i["kind"] == "metric_signal"]
    assert item["title"] == "Incidents per week"
    assert item["data"] == signal


def test_metric_signals_from_the_metrics_module_fit_in_the_frozen_agenda(team, session, now):
    # Whatever the real module returns for this team is JSON the agenda can store.
    for day in range(0, 70, 3):
        factories.IncidentFactory(team=team, started_at=now - dt.timedelta(days=day))
    document = agenda.build_agenda(session=session, now=now)
    assert json.loads(json.dumps(document)) == document


def test_items_the_previous_session_left_open_the_next_agenda_marked_carried_over(team, lead, session, now):
    from rituals import review_board

    old_overdue = fresh_action(team, now, title="Left over", due_date=(now - 10 * DAY).date())
    discussed = fresh_action(team, now, title="Talked about", due_date=(now - 10 * DAY).date())
    gone = fresh_action(team, now, title="Fixed since", due_date=(now - 10 * DAY).date())
    previous = session.previous
    previous.agenda = agenda.build_agenda(session=previous, now=now - 7 * DAY)
    previous.save()
    review_board.mark_discussed(session=previous, item_id=f"action:{discussed.pk}", by=lead)
    services.update_action(action=gone, due_date=(now + 10 * DAY).date())  # no longer qualifies
    new_incident = factories.IncidentFactory(team=team, severity="SEV1", started_at=now - DAY)

    document = agenda.build_agenda(session=session, now=now)

    when = previous.occurrence.astimezone(occurrences.local_tz(session.ritual)).date().isoformat()
    carried = [item for item in document["items"] if item["section"] == "carried_over"]
    assert [item["id"] for item in carried] == [f"action:{old_overdue.pk}", f"action:{gone.pk}"]
    assert carried[0]["reasons"] == ["carried_over", "overdue"]  # still overdue: both reasons, one item
    assert all(item["carried_over_from"] == when for item in carried)
    assert ids(document)[:3] == [f"action:{old_overdue.pk}", f"action:{gone.pk}", f"incident:{new_incident.pk}"]
    assert ids(document).count(f"action:{old_overdue.pk}") == 1
    assert f"action:{discussed.pk}" in ids(document)  # still overdue, on today's merits, not carried
    assert (document["carried_over"], document["carried_over_from"]) == (2, when)
    assert document["counts"]["carried_over"] == 2


def test_a_version_1_previous_agenda_is_carried_over_one_item_per_action(team, session, now):
    action = fresh_action(team, now)
    previous = session.previous
    previous.agenda = {
        "version": 1,
        "items": [
            {"id": f"action_overdue:{action.pk}", "kind": "action_overdue", "object_id": action.pk}
            | {"title": action.title, "data": {"stage": "plan"}},
            {"id": f"action_stale:{action.pk}", "kind": "action_stale", "object_id": action.pk}
            | {"title": action.title, "data": {"stage": "plan"}},
        ],
    }
    previous.save()
    document = agenda.build_agenda(session=session, now=now)
    (item,) = document["items"]
    assert (item["id"], item["section"]) == (f"action:{action.pk}", "carried_over")
    assert item["reasons"] == ["carried_over", "overdue", "stale"]
