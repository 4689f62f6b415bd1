"""Grafana alerting's webhook contact point: the published payload, signed as Grafana signs, or a credential."""

import base64
import copy
import datetime as dt
import json
import pathlib
import time

import pytest
from django.test import Client

from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import grafana
from integrations.webhooks.processing import drain_inbox

pytestmark = pytest.mark.django_db
# Grafana's documented example (the source is recorded beside the fixture).
PUBLISHED = json.loads((pathlib.Path(__file__).parent / "fixtures" / "grafana_webhook_firing.json").read_text())


def resolved(body=None):
    body = copy.deepcopy(body or PUBLISHED)
    body["status"] = "resolved"
    for position, alert in enumerate(body["alerts"]):
        alert["status"] = "resolved"
        alert["endsAt"] = f"2021-10-12T10:1{position}:00+02:00"
    return body


def post(integration, payload, **headers):
    body = json.dumps(payload).encode()
    response = Client().post(
        f"/hooks/{integration.public_id}/",
        data=body,
        content_type="application/json",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )
    if response.status_code == 202:
        drain_inbox()
    return response


def signed(integration, payload, *, timestamp=None):
    body = json.dumps(payload).encode()
    headers = {"X-Grafana-Alert-Signature": grafana.sign(integration.secret, body, timestamp or "")}
    if timestamp:
        headers["X-Grafana-Alert-Timestamp"] = timestamp
    return post(integration, payload, **headers)


@pytest.fixture
def hook(team):
    return create_integration(team=team, source=Integration.Source.GRAFANA)


def test_the_published_payload_signed_over_the_body_opens_one_incident_per_alert(hook, team):
    response = signed(hook, PUBLISHED)
    assert response.status_code == 202, response.json()
    incidents = {i.fingerprint: i for i in Incident.objects.filter(team=team, source="grafana")}
    assert set(incidents) == {"c6eadffa33fcdf37", "bc97ff14869b13e3"}
    memory = incidents["c6eadffa33fcdf37"]
    assert (memory.title, memory.summary, memory.status, memory.severity) == (
        "This alert was triggered for zone us-1",
        "The system has high memory usage",
        "open",
        "SEV3",
    )
    assert memory.started_at == dt.datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=dt.UTC)
    assert memory.url == "https://play.grafana.org/alerting/1afz29v7z/edit"


def test_a_timestamped_signature_is_accepted_fresh_and_refused_stale(hook):
    assert signed(hook, PUBLISHED, timestamp=str(int(time.time()))).status_code == 202
    stale = signed(hook, resolved(), timestamp=str(int(time.time()) - 600))
    assert (stale.status_code, stale.json()["code"]) == (400, "stale_timestamp")


def test_a_wrong_signature_or_one_over_another_timestamp_is_401(hook):
    body = json.dumps(PUBLISHED).encode()
    assert post(hook, PUBLISHED, **{"X-Grafana-Alert-Signature": "0" * 64}).status_code == 401
    now = str(int(time.time()))
    other = grafana.sign(hook.secret, body, str(int(now) - 1))
    response = post(hook, PUBLISHED, **{"X-Grafana-Alert-Signature": other, "X-Grafana-Alert-Timestamp": now})
    assert response.status_code == 401 and not Incident.objects.exists()


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_without_hmac_the_authorization_header_carries_the_secret(hook, scheme):
    credential = (
        f"Bearer {hook.secret}"
        if scheme == "bearer"
        else "Basic " + base64.b64encode(f"grafana:{hook.secret}".encode()).decode()
    )
    assert post(hook, PUBLISHED, Authorization=credential).status_code == 202
    assert Incident.objects.filter(source="grafana").count() == 2
    assert post(hook, resolved(), Authorization="Bearer not-the-secret").status_code == 401


def test_resolved_resolves_at_ends_at_a_retry_is_a_duplicate_and_a_late_firing_does_not_reopen(hook, team):
    signed(hook, PUBLISHED)
    assert signed(hook, resolved()).status_code == 202
    again = signed(hook, resolved())
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    late = copy.deepcopy(PUBLISHED)
    late["truncatedAlerts"] = 0  # the same firing notification, delivered after the resolution
    late["message"] = "late"
    signed(hook, late)
    incidents = Incident.objects.filter(team=team, source="grafana").order_by("fingerprint")
    assert [(i.status, i.resolved_at) for i in incidents] == [
        ("resolved", dt.datetime(2021, 10, 12, 8, 11, tzinfo=dt.UTC)),
        ("resolved", dt.datetime(2021, 10, 12, 8, 10, tzinfo=dt.UTC)),
    ]


def test_per_group_the_published_payload_is_one_incident(hook, team):
    hook.grouping = Integration.Grouping.GROUP
    hook.save(update_fields=["grouping"])
    signed(hook, PUBLISHED)
    incident = Incident.objects.get(team=team)
    assert incident.fingerprint.startswith("group:") and incident.status == "open"
    signed(hook, resolved())
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_at) == ("resolved", dt.datetime(2021, 10, 12, 8, 11, tzinfo=dt.UTC))


def test_a_payload_of_another_version_is_400_naming_the_field(hook):
    body = copy.deepcopy(PUBLISHED)
    body["version"] = "4"
    response = signed(hook, body)
    assert response.status_code == 400 and "version" in response.json()["errors"]


def test_another_team_s_hook_never_writes_to_this_team(hook, team, other_team):
    theirs = create_integration(team=other_team, source=Integration.Source.GRAFANA)
    signed(theirs, PUBLISHED)
    assert not Incident.objects.filter(team=team).exists()
    assert Incident.objects.filter(team=other_team).count() == 2
    # This team's secret does not open the other team's hook.
    body = json.dumps(PUBLISHED).encode()
    forged = post(theirs, PUBLISHED, **{"X-Grafana-Alert-Signature": grafana.sign(hook.secret, body)})
    assert forged.status_code == 401
    assert WebhookDelivery.objects.filter(integration=theirs, outcome="refused").count() == 1
