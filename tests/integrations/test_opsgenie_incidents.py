"""An Opsgenie incident at the hook: the alert actions of its responder alerts, as Opsgenie documents.

Opsgenie publishes no incident payload for its Webhook integration, which posts alert actions only.
An incident notifies its responders through responder alerts, ordinary alerts, closed when the
incident is closed and deleted when it is deleted; a team's integration gets Create when its team
is added to an alert, a global one AddTeam (the pages and the search: fixtures/opsgenie.json.source).
Payloads: Opsgenie's published alert action examples moved to a recent time; a second responder
alert is the same example with another alertId, alias and team.
"""

import copy
import datetime as dt

import pytest
from django.utils import timezone, translation

from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import opsgenie
from tests.integrations.test_opsgenie import ACKNOWLEDGE, CREATE, PUBLISHED_CREATED_MS, send

pytestmark = pytest.mark.django_db

# One "now" for every payload, so that all the actions of one alert carry the same createdAt, as Opsgenie's do.
NOW = timezone.now()
SECOND = {"alertId": "6a1f0c33-87d2-4e59-b0c1-2f4b8e9d7a10", "alias": "aliastest-team2", "teams": ["team2"]}


def moved(example: dict, *, hours_ago: float = 2, later_s: float = 0, action: str | None = None, **alert) -> dict:
    """The published example created `hours_ago` (units kept: createdAt ms, updatedAt ns), `later_s` on."""
    shift_ms = int((NOW - dt.timedelta(hours=hours_ago)).timestamp() * 1000) - PUBLISHED_CREATED_MS
    payload = copy.deepcopy(example)
    if action:
        payload["action"] = action
    payload["alert"]["createdAt"] += shift_ms
    payload["alert"]["updatedAt"] += (shift_ms + int(later_s * 1000)) * 1_000_000
    payload["alert"].update(alert)
    return payload


def at(payload: dict, field: str = "updatedAt") -> dt.datetime:
    return opsgenie.epoch(payload["alert"][field], field)


@pytest.fixture
def hook(team):
    return create_integration(team=team, source=Integration.Source.OPSGENIE)


def test_closing_the_opsgenie_incident_resolves_each_responder_alert_that_reached_the_hook(hook, team):
    first = moved(CREATE, priority="P1")
    second = moved(CREATE, priority="P1", **SECOND)
    # Closing the incident closes its responder alerts: one Close each, at the same moment.
    closes = [
        moved(ACKNOWLEDGE, action="Close", later_s=900),
        moved(ACKNOWLEDGE, action="Close", later_s=900, **SECOND),
    ]
    for payload in [first, second, *closes]:
        assert send(hook, payload, hook.bearer_token).status_code == 202
    rows = Incident.objects.filter(team=team, source="opsgenie").order_by("external_id")
    fields = ("external_id", "fingerprint", "severity", "status", "started_at", "resolved_at")
    assert list(rows.values_list(*fields)) == [
        (CREATE["alert"]["alertId"], "aliastest", "SEV1", "resolved", at(first, "createdAt"), at(closes[0])),
        (SECOND["alertId"], "aliastest-team2", "SEV1", "resolved", at(second, "createdAt"), at(closes[1])),
    ]


def test_deleting_the_opsgenie_incident_keeps_the_incident_as_it_is_and_says_so(hook, team):
    send(hook, moved(CREATE), hook.bearer_token)
    delete = moved(ACKNOWLEDGE, action="Delete", later_s=600)
    assert send(hook, delete, hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=team, source="opsgenie")
    assert (incident.status, incident.resolved_at) == ("open", None)
    delivery = WebhookDelivery.objects.get(event="Delete")
    assert (delivery.outcome, delivery.error) == (
        "ignored",
        "Opsgenie Delete actions are not used: the incident is kept as it is.",
    )


def test_a_team_added_later_makes_no_second_incident_and_keeps_the_alerts_start(hook, team):
    created = moved(CREATE)
    # Global integration: Create, then AddTeam when the escalation routes the alert to team2 5 minutes on;
    # team2's own integration (posting to the same hook) gets Create at that moment, with the alert's createdAt.
    add_team = moved(ACKNOWLEDGE, action="AddTeam", later_s=300)
    team_create = moved(CREATE, later_s=300, integrationName="Integration2", message="test alert")
    for payload in (created, add_team, team_create):
        assert send(hook, payload, hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=team, source="opsgenie")
    assert (incident.started_at, incident.detected_at, incident.status) == (
        at(created, "createdAt"),
        at(created, "createdAt"),
        "open",
    )
    outcomes = list(WebhookDelivery.objects.order_by("pk").values_list("event", "outcome"))
    assert outcomes == [("Create", "processed"), ("AddTeam", "ignored"), ("Create", "processed")]


def test_the_incidents_close_first_then_its_create_retried_twice_two_days_late_stays_resolved(hook, team):
    create = moved(CREATE, hours_ago=47)
    close = moved(ACKNOWLEDGE, hours_ago=47, action="Close", later_s=1200)
    assert send(hook, close, hook.bearer_token).status_code == 202
    assert send(hook, create, hook.bearer_token).status_code == 202  # a late retry, 47 h on
    again = send(hook, create, hook.bearer_token)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    incident = Incident.objects.get(team=team, source="opsgenie")
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "resolved",
        at(create, "createdAt"),
        at(close),
    )


def test_the_connection_page_tells_the_lead_how_opsgenie_incidents_arrive_in_english_and_french(client, lead, hook):
    client.force_login(lead)
    url = f"/t/{hook.team.slug}/settings/integrations/{hook.pk}/"
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="opsgenie-incidents"' in english
    assert "Opsgenie incidents arrive as the alerts of their responders" in english
    assert "connect Jira instead" in english
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Les incidents Opsgenie arrivent sous forme des alertes de leurs intervenants\u00a0:" in french
    assert "connectez plutôt Jira" in french


def test_the_delete_reason_is_french_for_a_french_reader(hook):
    with translation.override("fr"):
        reason = opsgenie.handle(hook, "Delete", moved(ACKNOWLEDGE, action="Delete")).reason
    assert reason == "Les actions Opsgenie Delete ne sont pas utilisées\u00a0: l'incident est conservé tel quel."
