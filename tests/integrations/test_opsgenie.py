"""Opsgenie's Webhook integration: alert Create / Acknowledge / Close, a token in a custom header.

Payloads: Opsgenie's published "alert action data" examples (fixtures/opsgenie_*.json, the
source in fixtures/opsgenie.json.source), moved to a recent time.
"""

import copy
import datetime as dt
import itertools
import json
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration, rotate_integration_secret
from integrations.webhooks import opsgenie, token_digest
from integrations.webhooks.processing import drain_inbox
from tests import factories

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
CREATE = json.loads((FIXTURES / "opsgenie_create.json").read_text())
ACKNOWLEDGE = json.loads((FIXTURES / "opsgenie_acknowledge.json").read_text())
PUBLISHED_CREATED_MS = CREATE["alert"]["createdAt"]
# The published examples are from 2015: moved so that the alert was created this long ago.
SHIFT_MS = int((timezone.now() - dt.timedelta(hours=2)).timestamp() * 1000) - PUBLISHED_CREATED_MS


def recent(example: dict, *, action: str | None = None, later_s: float = 0, **alert) -> dict:
    """The published example moved to now - 2 h (units kept: createdAt ms, updatedAt ns), `later_s` on."""
    payload = copy.deepcopy(example)
    if action:
        payload["action"] = action
    payload["alert"]["createdAt"] += SHIFT_MS
    payload["alert"]["updatedAt"] += (SHIFT_MS + int(later_s * 1000)) * 1_000_000
    payload["alert"].update(alert)
    return payload


def when(payload: dict) -> dt.datetime:
    return opsgenie.epoch(payload["alert"]["updatedAt"], "updatedAt")


def send(integration, payload, token):
    headers = {"HTTP_X_OPSKAIZEN_TOKEN": token} if token else {}
    response = Client().post(
        f"/hooks/{integration.public_id}/", data=json.dumps(payload), content_type="application/json", **headers
    )
    if response.status_code == 202:
        drain_inbox()
    return response


@pytest.fixture
def hook(team):
    return create_integration(team=team, source=Integration.Source.OPSGENIE)


def test_the_token_is_issued_once_and_only_its_digest_is_stored(hook):
    assert hook.bearer_token.startswith("okzog_")
    assert Integration.objects.get(pk=hook.pk).secret == token_digest(hook.bearer_token)


def test_create_acknowledge_close_make_one_incident_with_its_times(hook, team):
    create = recent(CREATE)
    assert send(hook, create, hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=team, source="opsgenie")
    created = opsgenie.epoch(create["alert"]["createdAt"], "createdAt")
    assert (incident.external_id, incident.fingerprint, incident.title) == (
        "052652ac-5d1c-464a-812a-7dd18bbfba8c",
        "aliastest",
        "test alert",
    )
    assert (incident.status, incident.started_at, incident.detected_at) == ("open", created, created)
    ack = recent(ACKNOWLEDGE)
    close = recent(ACKNOWLEDGE, action="Close", later_s=600)
    assert send(hook, ack, hook.bearer_token).status_code == 202
    assert send(hook, close, hook.bearer_token).status_code == 202
    incident.refresh_from_db()
    assert (incident.acknowledged_at, incident.status, incident.resolved_at) == (when(ack), "resolved", when(close))
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_arrival_order_ends_resolved_with_the_same_times(hook, team, order):
    lifecycle = [
        recent(CREATE),
        recent(ACKNOWLEDGE),
        recent(ACKNOWLEDGE, action="Close", later_s=600, message="test alert (closed)"),
    ]
    for position in order:
        assert send(hook, lifecycle[position], hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=team, source="opsgenie")
    assert (incident.status, incident.title) == ("resolved", "test alert (closed)")
    assert (incident.acknowledged_at, incident.resolved_at) == (when(lifecycle[1]), when(lifecycle[2]))


def test_a_retry_is_a_duplicate_and_changes_nothing(hook, team):
    create = recent(CREATE)
    send(hook, create, hook.bearer_token)
    again = send(hook, create, hook.bearer_token)
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert Incident.objects.filter(team=team).count() == 1


def test_a_retry_hours_late_is_accepted_but_older_than_the_maximum_age_is_refused(hook, settings):
    late = recent(CREATE)
    assert send(hook, late, hook.bearer_token).status_code == 202  # created 2 h ago: a late retry
    too_old = copy.deepcopy(CREATE)  # the published example, from 2015
    response = send(hook, too_old, hook.bearer_token)
    assert (response.status_code, response.json()["code"]) == (400, "event_too_old")
    assert "alert.updatedAt" in response.json()["errors"]


@pytest.mark.parametrize("action", ["AddNote", "AssignOwnership", "UnAcknowledge", "Delete", "TakeOwnership"])
def test_other_actions_are_recorded_ignored_with_the_reason(hook, action):
    payload = recent(ACKNOWLEDGE, action=action, note="Looking into it")
    assert send(hook, payload, hook.bearer_token).status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.event) == ("ignored", action)
    assert action in delivery.error and "not used" in delivery.error
    assert not Incident.objects.exists()


@pytest.mark.parametrize("token", [None, "wrong", "okzog_" + "x" * 43])
def test_a_missing_or_wrong_token_is_401(hook, token):
    response = send(hook, recent(CREATE), token)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert WebhookDelivery.objects.get().outcome == "refused" and not Incident.objects.exists()


def test_a_rotated_token_refuses_the_old_one_and_the_token_is_never_stored(hook):
    old = hook.bearer_token
    rotate_integration_secret(integration=hook)
    assert send(hook, recent(CREATE), old).status_code == 401
    assert send(hook, recent(CREATE), hook.bearer_token).status_code == 202
    delivery = WebhookDelivery.objects.get(outcome="processed")
    assert hook.bearer_token not in json.dumps(delivery.headers) and hook.bearer_token not in delivery.body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("action"), "action"),
        (lambda body: body.pop("alert"), "alert"),
        (lambda body: body["alert"].pop("alertId"), "alert.alertId"),
        (lambda body: body["alert"].update(updatedAt="soon"), "alert.updatedAt"),
        (lambda body: body["alert"].pop("createdAt"), "alert.createdAt"),
    ],
)
def test_a_malformed_action_is_400_naming_the_field(hook, change, field):
    body = recent(CREATE)
    change(body)
    response = send(hook, body, hook.bearer_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Incident.objects.exists()


def test_priority_and_entity_map_to_severity_and_service_unknown_fields_are_ignored(hook, team):
    service = factories.ServiceFactory(team=team, slug="checkout", name="Checkout")
    send(hook, recent(CREATE, priority="P1", entity="CHECKOUT", somethingNew={"x": 1}), hook.bearer_token)
    incident = Incident.objects.get(team=team)
    assert (incident.severity, incident.service) == ("SEV1", service)


def test_a_hook_writes_only_into_its_own_team(hook, team, other_team):
    other = create_integration(team=other_team, source=Integration.Source.OPSGENIE)
    assert send(other, recent(CREATE), hook.bearer_token).status_code == 401  # one team's token, not another's
    send(hook, recent(CREATE), hook.bearer_token)
    assert list(Incident.objects.values_list("team", flat=True)) == [team.pk]


def test_the_connection_page_shows_the_set_up_steps_to_a_lead_only(client, team, lead, member, other_team, hook):
    url = f"/t/{team.slug}/settings/integrations/{hook.pk}/"
    client.force_login(lead)
    html = client.get(url).content.decode()
    assert "setup-steps" in html and opsgenie.TOKEN_HEADER in html and str(hook.public_id) in html
    client.force_login(member)
    assert client.get(url).status_code == 403
    outsider = factories.MembershipFactory(team=other_team, role="lead").user
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_connecting_opsgenie_shows_the_token_once_with_the_header_to_put_it_in(client, lead, team):
    client.force_login(lead)
    response = client.post(f"/t/{team.slug}/settings/integrations/", {"source": "opsgenie"}, follow=True)
    html = response.content.decode()
    token = next(word for word in html.replace("<", " ").split() if word.startswith("okzog_"))
    assert token_digest(token) == Integration.objects.get(team=team, source="opsgenie").secret
    assert opsgenie.TOKEN_HEADER in html
    assert token not in client.get(f"/t/{team.slug}/settings/integrations/").content.decode()
