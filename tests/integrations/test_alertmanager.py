"""Prometheus Alertmanager's webhook_config (payload version 4): a bearer token or basic auth,
each alert or each alert group an incident (the lead's choice)."""

import base64
import copy
import datetime as dt
import json

import pytest
from django.test import Client

from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration, rotate_integration_secret
from integrations.webhooks import alertmanager
from integrations.webhooks.processing import drain_inbox
from tests import factories

pytestmark = pytest.mark.django_db

STARTS = "2026-01-05T10:00:00.000Z"
ENDS = "2026-01-05T10:42:00.000Z"
# The shape documented at prometheus.io/docs/alerting/latest/configuration/#webhook_config.
NOTIFICATION = {
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "opskaizen",
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency", "severity": "critical", "service": "Checkout"},
    "commonAnnotations": {"summary": "Checkout p99 latency above 2 s"},
    "externalURL": "https://alertmanager.example.com",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "critical", "service": "Checkout", "instance": "a:9100"},
            "annotations": {"summary": "Checkout p99 latency above 2 s", "description": "p99 is 3.1 s on a:9100"},
            "startsAt": STARTS,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example.com/graph?g0.expr=latency",
            "fingerprint": "c4a5f6d1e2b3a4f5",
        },
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "warning", "instance": "b:9100"},
            "annotations": {},
            "startsAt": STARTS,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
            "fingerprint": "0a1b2c3d4e5f6a7b",
        },
    ],
}


def notification(status="firing", ends=ENDS, alerts=None):
    body = copy.deepcopy(NOTIFICATION)
    body["status"] = status
    for alert in body["alerts"]:
        alert["status"] = status
        if status == "resolved":
            alert["endsAt"] = ends
    if alerts is not None:
        body["alerts"] = [body["alerts"][i] for i in alerts]
    return body


def send(integration, payload, token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = Client().post(
        f"/hooks/{integration.public_id}/", data=json.dumps(payload), content_type="application/json", **headers
    )
    if response.status_code == 202:
        drain_inbox()
    return response


@pytest.fixture
def hook(team):
    return create_integration(team=team, source=Integration.Source.ALERTMANAGER)


def test_the_token_is_shown_once_and_only_its_digest_is_stored(hook):
    assert hook.bearer_token.startswith("okzam_")
    stored = Integration.objects.get(pk=hook.pk).secret
    assert stored == alertmanager.token_digest(hook.bearer_token) and hook.bearer_token not in stored
    assert stored.startswith("sha256:") and len(stored) == len("sha256:") + 64


def test_firing_alerts_open_one_incident_each_with_severity_and_service_from_labels(hook, team):
    service = factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    response = send(hook, notification(), hook.bearer_token)
    assert response.status_code == 202, response.json()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.result["created"]) == ("processed", 2)
    first = Incident.objects.get(team=team, source="alertmanager", external_id="c4a5f6d1e2b3a4f5/20260105T100000Z")
    assert (first.title, first.severity, first.service, first.status) == (
        "Checkout p99 latency above 2 s",
        "SEV1",
        service,
        "open",
    )
    assert first.started_at == first.detected_at == dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert first.summary == "p99 is 3.1 s on a:9100"
    assert first.url == "https://prometheus.example.com/graph?g0.expr=latency"
    second = Incident.objects.get(team=team, source="alertmanager", external_id="0a1b2c3d4e5f6a7b/20260105T100000Z")
    assert (second.title, second.severity, second.service, second.url) == ("HighLatency", "SEV3", None, "")


def test_resolved_resolves_at_ends_at_and_a_repeat_changes_nothing(hook, team):
    send(hook, notification(), hook.bearer_token)
    repeat = send(hook, notification(), hook.bearer_token)  # repeat_interval: the same notification again
    assert (repeat.status_code, repeat.json()["outcome"]) == (200, "duplicate")
    assert send(hook, notification("resolved"), hook.bearer_token).status_code == 202
    incidents = Incident.objects.filter(team=team, source="alertmanager")
    assert incidents.count() == 2
    assert {(i.status, i.resolved_at) for i in incidents} == {
        ("resolved", dt.datetime(2026, 1, 5, 10, 42, tzinfo=dt.UTC))
    }


def test_a_late_firing_after_the_resolved_does_not_reopen(hook, team):
    send(hook, notification("resolved", alerts=[0]), hook.bearer_token)
    send(hook, notification("firing", alerts=[0]), hook.bearer_token)
    incident = Incident.objects.get(team=team, source="alertmanager")
    assert incident.status == "resolved"
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 2


def test_the_same_alert_firing_again_later_is_a_new_incident(hook, team):
    send(hook, notification("resolved", alerts=[0]), hook.bearer_token)
    again = notification(alerts=[0])
    again["alerts"][0]["startsAt"] = "2026-01-06T08:00:00Z"
    send(hook, again, hook.bearer_token)
    assert sorted(Incident.objects.values_list("status", flat=True)) == ["open", "resolved"]
    assert all(i.external_id.startswith("c4a5f6d1e2b3a4f5/") for i in Incident.objects.all())


@pytest.mark.parametrize("token", [None, "wrong", "okzam_" + "x" * 43])
def test_a_missing_or_wrong_token_is_401(hook, token):
    response = send(hook, notification(), token)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert WebhookDelivery.objects.get().outcome == "refused" and not Incident.objects.exists()


def test_a_basic_header_that_is_not_base64_or_a_rotated_token_is_refused(hook):
    old = hook.bearer_token
    rotate_integration_secret(integration=hook)
    assert send(hook, notification(), old).status_code == 401
    response = Client().post(
        f"/hooks/{hook.public_id}/", data="{}", content_type="application/json", HTTP_AUTHORIZATION=f"Basic {old}"
    )
    assert response.status_code == 401
    assert send(hook, notification(), hook.bearer_token).status_code == 202


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.update(version="3"), "version"),
        (lambda body: body.pop("alerts"), "alerts"),
        (lambda body: body["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
        (lambda body: body["alerts"][1].update(status="pending"), "alerts.1.status"),
        (lambda body: body["alerts"][0].update(startsAt="soon"), "alerts.0.startsAt"),
    ],
)
def test_a_malformed_notification_is_400_naming_the_field(hook, change, field):
    body = notification()
    change(body)
    response = send(hook, body, hook.bearer_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Incident.objects.exists()


def test_the_token_is_not_stored_with_the_delivery(hook):
    send(hook, notification(), hook.bearer_token)
    delivery = WebhookDelivery.objects.get()
    assert hook.bearer_token not in json.dumps(delivery.headers) and hook.bearer_token not in delivery.body


def test_the_settings_page_shows_the_token_once(client, lead, team):
    client.force_login(lead)
    response = client.post(f"/t/{team.slug}/settings/integrations/", {"source": "alertmanager"}, follow=True)
    integration = Integration.objects.get(team=team, source="alertmanager")
    html = response.content.decode()
    token = next(word for word in html.replace("<", " ").split() if word.startswith("okzam_"))
    assert alertmanager.token_digest(token) == integration.secret
    assert token not in client.get(f"/t/{team.slug}/settings/integrations/").content.decode()


def test_one_added_in_the_admin_gets_a_token_shown_once(team, rf):
    from django.contrib.admin.sites import site

    admin = site._registry[Integration]
    request = rf.post("/admin/")
    request.user = factories.UserFactory(is_superuser=True, is_staff=True)
    shown = []
    admin.message_user = lambda request, message, *a, **k: shown.append(message)
    integration = Integration(team=team, source="alertmanager")
    admin.save_model(request, integration, form=None, change=False)
    token = shown[0].rsplit(" ", 1)[1]
    assert Integration.objects.get(pk=integration.pk).secret == alertmanager.token_digest(token)
    assert send(integration, notification(), token).status_code == 202


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def post_with(integration, payload, authorization):
    response = Client().post(
        f"/hooks/{integration.public_id}/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )
    if response.status_code == 202:
        drain_inbox()
    return response


@pytest.mark.parametrize("user", ["opskaizen", "alertmanager", ""])
def test_basic_auth_with_the_token_as_password_is_accepted_whatever_the_user(hook, user):
    response = post_with(hook, notification(), basic(user, hook.bearer_token))
    assert response.status_code == 202, response.json()
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    "authorization",
    [basic("opskaizen", "wrong"), basic("opskaizen", ""), "Basic !!notbase64", "Basic " + "b2s=", "Token abc"],
)
def test_basic_auth_with_a_wrong_password_is_401(hook, authorization):
    response = post_with(hook, notification(), authorization)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert not Incident.objects.exists()


def test_each_alert_keeps_its_fingerprint(hook, team):
    send(hook, notification(), hook.bearer_token)
    assert set(Incident.objects.values_list("fingerprint", flat=True)) == {"c4a5f6d1e2b3a4f5", "0a1b2c3d4e5f6a7b"}


@pytest.fixture
def grouped(hook):
    hook.grouping = Integration.Grouping.GROUP
    hook.save(update_fields=["grouping"])
    return hook


def test_per_group_a_group_is_one_incident_with_the_highest_severity(grouped, team):
    service = factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    response = send(grouped, notification(), grouped.bearer_token)
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.service, incident.status) == (
        "Checkout p99 latency above 2 s",
        "SEV1",
        service,
        "open",
    )
    assert incident.fingerprint == alertmanager.group_fingerprint(NOTIFICATION)
    assert incident.fingerprint.startswith("group:") and incident.external_id.startswith(incident.fingerprint + "/")
    assert incident.started_at == dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def test_per_group_it_stays_open_while_one_alert_fires_and_resolves_at_the_latest_end(grouped, team):
    send(grouped, notification(), grouped.bearer_token)
    partly = notification()
    partly["alerts"][1].update(status="resolved", endsAt="2026-01-05T10:20:00Z")
    send(grouped, partly, grouped.bearer_token)
    assert Incident.objects.get().status == "open"
    done = notification("resolved")
    done["alerts"][1]["endsAt"] = "2026-01-05T10:20:00Z"
    send(grouped, done, grouped.bearer_token)
    incident = Incident.objects.get()
    assert (incident.status, incident.resolved_at) == ("resolved", dt.datetime(2026, 1, 5, 10, 42, tzinfo=dt.UTC))


def test_per_group_a_late_firing_after_the_resolved_does_not_reopen_nor_open_another(grouped, team):
    send(grouped, notification("resolved"), grouped.bearer_token)
    send(grouped, notification("firing"), grouped.bearer_token)
    incident = Incident.objects.get()
    assert incident.status == "resolved"
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 2


def test_per_group_a_new_firing_after_the_resolution_is_a_new_incident(grouped, team):
    send(grouped, notification("resolved"), grouped.bearer_token)
    again = notification(alerts=[1])
    again["alerts"][0]["startsAt"] = "2026-01-06T08:00:00Z"
    send(grouped, again, grouped.bearer_token)
    first, second = Incident.objects.order_by("started_at")
    assert (first.status, second.status) == ("resolved", "open")
    assert first.fingerprint == second.fingerprint and first.external_id != second.external_id
    assert second.started_at == dt.datetime(2026, 1, 6, 8, tzinfo=dt.UTC)


def test_per_group_a_notification_without_group_key_fails_naming_it(grouped):
    body = notification()
    body.pop("groupKey")
    send(grouped, body, grouped.bearer_token)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and "groupKey" in delivery.result["errors"]
    assert not Incident.objects.exists()


def test_the_lead_chooses_the_grouping_on_the_integration_page(client, lead, hook, team):
    client.force_login(lead)
    url = f"/t/{team.slug}/settings/integrations/{hook.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and 'value="group"' in page.content.decode()
    response = client.post(url, {"grouping": "group"})
    assert response.status_code == 302
    assert Integration.objects.get(pk=hook.pk).grouping == "group"
    bad = client.post(url, {"grouping": "everything"})
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    assert Integration.objects.get(pk=hook.pk).grouping == "group"


def test_a_source_without_alerts_cannot_be_grouped(client, lead, team):
    github = create_integration(team=team, source=Integration.Source.GITHUB)
    client.force_login(lead)
    response = client.post(f"/t/{team.slug}/settings/integrations/{github.pk}/", {"grouping": "group"})
    assert response.status_code == 400 and "This source does not group alerts." in response.content.decode()
    assert Integration.objects.get(pk=github.pk).grouping == "alert"


def test_the_integration_page_is_the_lead_s_of_its_own_team_only(client, team, hook, other_team):
    theirs = create_integration(team=other_team, source=Integration.Source.ALERTMANAGER)
    member = factories.MembershipFactory(team=team, role="member").user
    lead = factories.MembershipFactory(team=team, role="lead").user
    client.force_login(member)
    assert client.get(f"/t/{team.slug}/settings/integrations/{hook.pk}/").status_code in (403, 404)
    client.force_login(lead)
    assert client.get(f"/t/{team.slug}/settings/integrations/{theirs.pk}/").status_code == 404
    assert client.post(f"/t/{team.slug}/settings/integrations/{theirs.pk}/", {"grouping": "group"}).status_code == 404
    assert Integration.objects.get(pk=theirs.pk).grouping == "alert"


def test_the_integration_page_s_queries_do_not_grow(client, lead, hook, team, django_assert_num_queries):
    client.force_login(lead)
    url = f"/t/{team.slug}/settings/integrations/{hook.pk}/"
    client.get(url)
    with django_assert_num_queries(7):  # the seventh: the stored deliveries a mapping can be tried on
        client.get(url)
    for source in ("github", "jira", "pagerduty"):
        create_integration(team=team, source=source)
    send(hook, notification(), hook.bearer_token)
    with django_assert_num_queries(7):
        client.get(url)
