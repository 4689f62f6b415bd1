"""The order rule (incidents.ordering): per field the newest event's value, the status never backwards.

Delivered through the hooks with the vendors' payloads of tests/integrations (signed as each
vendor documents), in every arrival order of one lifecycle.
"""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from incidents import ordering
from incidents import services as incident_services
from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration
from tests import factories
from tests.integrations.test_alertmanager import notification, send
from tests.integrations.test_webhooks import generic_post, iso, jira_payload, jira_post, pagerduty_event, pagerduty_post

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=3)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def pd(event_type, minutes, title):
    payload = pagerduty_event(event_type, occurred=at(minutes))
    payload["event"]["data"].update(created_at=iso(at(-1)), title=title)
    return payload


PD_LIFECYCLE = (
    ("incident.triggered", 0, "Checkout slow"),
    ("incident.acknowledged", 5, "Checkout down"),
    ("incident.resolved", 40, "Checkout down (fixed)"),
)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_pagerduty_lifecycle_ends_the_same_in_every_arrival_order(team, order):
    hook = create_integration(team=team, source="pagerduty")
    for position in order:
        assert pagerduty_post(hook, pd(*PD_LIFECYCLE[position])).status_code == 202
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert (incident.status, incident.title) == ("resolved", "Checkout down (fixed)")
    assert (incident.started_at, incident.acknowledged_at, incident.resolved_at) == (at(-1), at(5), at(40))
    assert incident.source_event_at == at(40)
    assert incident.field_event_at["title"] == at(40).isoformat()


JIRA_LIFECYCLE = (
    {"event": "jira:issue_created", "minutes": 0, "summary": "Gateway slow", "priority": {"name": "Medium"}},
    {"event": "jira:issue_updated", "minutes": 10, "summary": "Gateway down", "priority": {"name": "Highest"}},
    {
        "event": "jira:issue_updated",
        "minutes": 30,
        "summary": "Gateway down",
        "priority": {"name": "Highest"},
        "resolution": "2026-01-05T12:00:00.000+0000",
    },
)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_jira_lifecycle_ends_the_same_in_every_arrival_order(team, order):
    hook = create_integration(team=team, source="jira")
    for position in order:
        spec = dict(JIRA_LIFECYCLE[position])
        payload = jira_payload(spec.pop("event"), "Incident", at=at(spec.pop("minutes")), **spec)
        assert jira_post(hook, payload).status_code == 202
    incident = Incident.objects.get(team=team, source="jira")
    assert (incident.status, incident.title, incident.severity) == ("resolved", "Gateway down", "SEV1")
    assert incident.source_event_at == at(30)


@pytest.mark.parametrize("resolved_first", [True, False])
def test_an_alertmanager_alert_resolves_at_ends_at_whichever_arrives_first(team, resolved_first):
    hook = create_integration(team=team, source=Integration.Source.ALERTMANAGER)
    sends = [notification("firing", alerts=[0]), notification("resolved", alerts=[0])]
    for payload in reversed(sends) if resolved_first else sends:
        assert send(hook, payload, hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=team, source="alertmanager")
    assert (incident.status, incident.resolved_at) == ("resolved", dt.datetime(2026, 1, 5, 10, 42, tzinfo=dt.UTC))


def generic_incident(delivery, minutes, **data):
    return {
        "id": delivery,
        "type": "incident",
        "occurred_at": iso(at(minutes)),
        "data": {"external_id": "ALERT-9", "started_at": iso(at(0)), **data},
    }


@pytest.fixture
def generic_hook(team):
    return create_integration(team=team, source="generic")


def test_each_field_keeps_the_newest_event_that_set_it_not_the_newest_event_overall(generic_hook, team):
    generic_post(generic_hook, generic_incident("a", 1, title="One"))
    generic_post(generic_hook, generic_incident("c", 3, severity="SEV1"))
    # Older than the last event applied (3) but newer than the title's (1): the title is its.
    generic_post(generic_hook, generic_incident("b", 2, title="Two", severity="SEV4"))
    # Older than everything: fills the summary no event set, changes nothing else.
    generic_post(generic_hook, generic_incident("z", 0, title="Zero", severity="SEV2", summary="First page"))
    incident = Incident.objects.get(team=team, external_id="ALERT-9")
    assert (incident.title, incident.severity, incident.summary) == ("Two", "SEV1", "First page")
    assert incident.source_event_at == at(3)
    assert {name: incident.field_event_at[name] for name in ("title", "severity", "summary")} == {
        "title": at(2).isoformat(),
        "severity": at(3).isoformat(),
        "summary": at(0).isoformat(),
    }


def test_the_status_never_moves_backwards_through_an_older_event(generic_hook, team):
    generic_post(generic_hook, generic_incident("a", 0, title="Firing", status="open"))
    generic_post(
        generic_hook, generic_incident("c", 20, status="resolved", mitigated_at=iso(at(15)), resolved_at=iso(at(20)))
    )
    generic_post(generic_hook, generic_incident("b", 10, status="open", title="Still firing"))  # late
    generic_post(generic_hook, generic_incident("d", 12, status="mitigated", mitigated_at=iso(at(12))))  # late
    incident = Incident.objects.get(team=team, external_id="ALERT-9")
    assert (incident.status, incident.mitigated_at, incident.resolved_at) == ("resolved", at(15), at(20))
    assert incident.title == "Still firing"  # the title's own newest event (10 > 0): per field
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}


def test_an_event_of_the_same_time_moves_the_status_forward_only(team):
    incident, _ = incident_services.upsert_incident_by_ref(
        team=team, source="s", external_id="x", title="A", started_at=at(0), event_at=at(5)
    )
    incident = incident_services.set_incident_status(incident=incident, status="resolved", at=at(5), event_at=at(5))
    incident = incident_services.update_incident(incident=incident, status="open", event_at=at(5))
    assert incident.status == "resolved"
    assert ordering.status_may_move(incident, "closed", at(5)) and not ordering.status_may_move(incident, "open", at(5))


def test_a_refused_late_resolution_leaves_its_timestamps_unset(team):
    incident, _ = incident_services.upsert_incident_by_ref(
        team=team, source="s", external_id="x", title="A", started_at=at(0), event_at=at(0)
    )
    incident_services.update_incident(incident=incident, title="Reopened upstream", event_at=at(30))
    incident = incident_services.update_incident(
        incident=incident, status="resolved", resolved_at=at(20), mitigated_at=at(20), event_at=at(20)
    )
    assert (incident.status, incident.resolved_at, incident.mitigated_at) == ("open", None, None)


def test_a_late_acknowledgement_fills_the_unset_time_even_after_the_resolution(team):
    hook = create_integration(team=team, source="pagerduty")
    pagerduty_post(hook, pd("incident.resolved", 40, "Checkout down"))
    pagerduty_post(hook, pd("incident.acknowledged", 5, "Checkout down"))
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert (incident.status, incident.acknowledged_at) == ("resolved", at(5))
    assert incident.field_event_at["acknowledged_at"] == at(5).isoformat()


def test_an_incident_from_before_the_per_field_map_keeps_the_older_rule(team):
    incident = factories.IncidentFactory(team=team, title="Set by an old event", started_at=at(0))
    Incident.objects.filter(pk=incident.pk).update(source_event_at=at(10), field_event_at={})
    incident.refresh_from_db()
    incident = incident_services.update_incident(
        incident=incident, title="Older", summary="Filled", status="resolved", resolved_at=at(9), event_at=at(9)
    )
    assert (incident.title, incident.summary, incident.status) == ("Set by an old event", "Filled", "open")


def test_writes_without_an_event_time_apply_as_given_and_leave_the_stamps(team):
    incident, _ = incident_services.upsert_incident_by_ref(
        team=team, source="s", external_id="x", title="A", started_at=at(0), event_at=at(5)
    )
    stamps = dict(incident.field_event_at)
    incident = incident_services.update_incident(incident=incident, title="Edited by hand")
    assert (incident.title, incident.field_event_at, incident.source_event_at) == ("Edited by hand", stamps, at(5))
