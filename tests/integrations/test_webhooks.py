"""Signed webhooks from each source: verified, fresh, stored raw, idempotent, mapped by the services."""

import datetime as dt
import json
import time
import uuid

import pytest
from django.contrib.admin.sites import site
from django.test import Client
from django.utils import timezone

from improvement.models import Action, Stage
from incidents.models import Change, Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration, rotate_integration_secret
from integrations.webhooks import generic, github, jira, pagerduty
from integrations.webhooks.processing import drain_inbox
from tests import factories

pytestmark = pytest.mark.django_db


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(integration, body: bytes, *, drain=True, **headers):
    """POST a delivery; an accepted one (202, queued) is then applied, as the teams.drain_webhooks task does."""
    response = Client().post(f"/hooks/{integration.public_id}/", data=body, content_type="application/json", **headers)
    if drain and response.status_code == 202:
        drain_inbox()
    return response


def http(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


# --- generic -------------------------------------------------------------------


def generic_post(integration, payload: dict, *, secret=None, timestamp=None):
    body = json.dumps(payload).encode()
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    signature = generic.sign(secret or integration.secret, timestamp, body)
    return post(
        integration, body, **{http(generic.TIMESTAMP_HEADER): timestamp, http(generic.SIGNATURE_HEADER): signature}
    )


@pytest.fixture
def generic_hook(team):
    return create_integration(team=team, source="generic")


GENERIC_INCIDENT = {
    "id": "evt-1",
    "type": "incident",
    "data": {"external_id": "ALERT-9", "title": "Queue backlog", "started_at": "2026-01-01T10:00:00Z"},
}


def test_a_delivery_is_accepted_queued_and_applied_by_the_drain(generic_hook, team):
    body = json.dumps(GENERIC_INCIDENT).encode()
    timestamp = str(int(time.time()))
    headers = {
        http(generic.TIMESTAMP_HEADER): timestamp,
        http(generic.SIGNATURE_HEADER): generic.sign(generic_hook.secret, timestamp, body),
    }
    response = post(generic_hook, body, drain=False, **headers)
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert response.json() == {"outcome": "queued", "delivery": delivery.pk}
    assert delivery.outcome == "queued" and not Incident.objects.exists()
    assert drain_inbox() == 1
    delivery.refresh_from_db()
    assert delivery.outcome == "processed" and delivery.processed_at is not None
    assert Incident.objects.get(team=team, external_id="ALERT-9").title == "Queue backlog"
    assert drain_inbox() == 0  # applied once


def test_generic_delivery_creates_an_incident_and_is_stored_raw(generic_hook, team):
    response = generic_post(generic_hook, GENERIC_INCIDENT)
    assert response.status_code == 202, response.json()
    incident = Incident.objects.get(team=team, source="generic", external_id="ALERT-9")
    assert incident.title == "Queue backlog"
    delivery = WebhookDelivery.objects.get(outcome="processed")
    assert json.loads(delivery.body) == GENERIC_INCIDENT
    assert delivery.result == {"incident": incident.pk, "created": True}


def test_the_same_delivery_twice_changes_nothing_the_second_time(generic_hook, team):
    generic_post(generic_hook, GENERIC_INCIDENT)
    before = Incident.objects.get(external_id="ALERT-9").updated_at
    response = generic_post(generic_hook, GENERIC_INCIDENT)
    assert response.status_code == 200
    assert response.json()["outcome"] == "duplicate"
    assert Incident.objects.filter(external_id="ALERT-9").count() == 1
    assert Incident.objects.get(external_id="ALERT-9").updated_at == before


def test_a_forged_signature_is_401_and_stores_only_a_refusal_line(generic_hook):
    response = generic_post(generic_hook, GENERIC_INCIDENT, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert not Incident.objects.exists()
    refused = WebhookDelivery.objects.get()
    assert (refused.outcome, refused.body, refused.headers) == ("refused", "", {})


def test_an_unsigned_delivery_is_refused(generic_hook):
    response = post(generic_hook, json.dumps(GENERIC_INCIDENT).encode())
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_a_replay_outside_five_minutes_is_refused(generic_hook):
    response = generic_post(generic_hook, GENERIC_INCIDENT, timestamp=time.time() - 6 * 60)
    assert response.status_code == 400
    assert response.json()["code"] == "stale_timestamp"
    assert not Incident.objects.exists()
    assert WebhookDelivery.objects.get().outcome == "refused"


def test_a_rotated_secret_refuses_the_old_one(generic_hook):
    old = generic_hook.secret
    rotate_integration_secret(integration=generic_hook)
    assert generic_post(generic_hook, GENERIC_INCIDENT, secret=old).status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "x", "type": "spaceship", "data": {"external_id": "A"}},
        {"id": "x", "type": "incident", "data": "not an object"},
        {"id": "x", "type": "incident", "data": {"title": "no external id"}},
        ["not", "an", "object"],
    ],
)
def test_malformed_deliveries_are_400_and_touch_nothing(generic_hook, payload):
    response = generic_post(generic_hook, payload)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "errors"}
    assert not Incident.objects.exists()
    assert WebhookDelivery.objects.get().outcome == "refused"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"external_id": "A", "started_at": "yesterday", "title": "t"}, "started_at"),
        ({"external_id": "A", "title": "t", "severity": "SEV9", "started_at": "2026-01-01T10:00:00Z"}, "severity"),
    ],
)
def test_invalid_fields_are_accepted_then_failed_with_the_field_and_touch_nothing(generic_hook, data, field):
    response = generic_post(generic_hook, {"id": "x", "type": "incident", "data": data})
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and field in delivery.result["errors"] and field in delivery.error
    assert not Incident.objects.exists()


def test_invalid_utf8_is_refused(generic_hook):
    body = b'{"id": "\xff"}'
    timestamp = str(int(time.time()))
    response = post(
        generic_hook,
        body,
        **{
            http(generic.TIMESTAMP_HEADER): timestamp,
            http(generic.SIGNATURE_HEADER): generic.sign(generic_hook.secret, timestamp, body),
        },
    )
    assert response.status_code == 400


def test_a_delivery_the_domain_refuses_is_stored_as_failed_with_the_fields(generic_hook):
    payload = {
        "id": "evt-2",
        "type": "incident",
        "data": {
            "external_id": "ALERT-10",
            "title": "Out of order",
            "started_at": "2026-01-01T10:00:00Z",
            "detected_at": "2026-01-01T09:00:00Z",
        },
    }
    response = generic_post(generic_hook, payload)
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and delivery.body
    assert "detected_at" in delivery.result["errors"]
    assert not Incident.objects.exists()


def test_an_oversized_delivery_is_413(generic_hook, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = generic_post(generic_hook, {**GENERIC_INCIDENT, "pad": "x" * 500})
    assert response.status_code == 413
    assert WebhookDelivery.objects.get().outcome == "refused"


def test_unknown_or_inactive_hook_is_404(generic_hook):
    assert Client().post(f"/hooks/{uuid.uuid4()}/", data=b"{}", content_type="application/json").status_code == 404
    Integration.objects.filter(pk=generic_hook.pk).update(active=False)
    assert generic_post(generic_hook, GENERIC_INCIDENT).status_code == 404


def test_a_hook_writes_only_into_its_own_team(generic_hook, other_team):
    other_service = factories.ServiceFactory(team=other_team)
    payload = {**GENERIC_INCIDENT, "data": {**GENERIC_INCIDENT["data"], "service": other_service.pk}}
    assert generic_post(generic_hook, payload).status_code == 202
    assert not Incident.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed" and "service" in delivery.result["errors"]


def test_failed_delivery_can_be_reprocessed_from_the_admin(generic_hook, team, rf):
    payload = {
        "id": "evt-3",
        "type": "action",
        "data": {"external_id": "OPS-1", "title": "Add canary", "owner": "ghost"},
    }
    assert generic_post(generic_hook, payload).status_code == 202
    failed = WebhookDelivery.objects.get(outcome="failed")  # unknown owner
    assert "owner" in failed.result["errors"] and not Action.objects.exists()
    factories.MembershipFactory(team=team, role="member", user=factories.UserFactory(username="ghost"))
    ok = generic_post(generic_hook, {**payload, "id": "evt-4"})
    assert ok.status_code == 202
    delivery = WebhookDelivery.objects.get(outcome="processed")
    Action.objects.all().delete()
    admin = site._registry[WebhookDelivery]
    request = rf.post("/admin/")
    request.user = factories.UserFactory(is_superuser=True, is_staff=True)
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    admin.reprocess(request, WebhookDelivery.objects.filter(pk=delivery.pk))
    assert Action.objects.get(external_id="OPS-1").owner.username == "ghost"
    admin.reprocess(request, WebhookDelivery.objects.filter(pk=failed.pk))  # now that ghost is a member
    failed.refresh_from_db()
    assert failed.outcome == "processed"


# --- GitHub ---------------------------------------------------------------------


def github_post(integration, event: str, payload: dict, delivery=None, secret=None):
    body = json.dumps(payload).encode()
    return post(
        integration,
        body,
        **{
            http("X-GitHub-Event"): event,
            http("X-GitHub-Delivery"): delivery or str(uuid.uuid4()),
            http(github.SIGNATURE_HEADER): github.sign(secret or integration.secret, body),
        },
    )


REPO = {"id": 1296269, "name": "checkout", "full_name": "acme/checkout", "html_url": "https://github.com/acme/checkout"}


def github_issue(action="opened", title="Add a canary stage", updated=None):
    now = iso(updated or timezone.now())
    return {
        "action": action,
        "issue": {
            "id": 1,
            "number": 1347,
            "title": title,
            "body": "Deploys break the gateway.",
            "state": "open" if action != "closed" else "closed",
            "html_url": "https://github.com/acme/checkout/issues/1347",
            "created_at": now,
            "updated_at": now,
            "user": {"login": "octocat"},
            "labels": [],
        },
        "repository": REPO,
        "sender": {"login": "octocat"},
    }


@pytest.fixture
def github_hook(team):
    return create_integration(team=team, source="github")


def test_github_issue_becomes_an_action_and_closing_never_touches_the_stage(github_hook, team):
    assert github_post(github_hook, "issues", github_issue()).status_code == 202
    action = Action.objects.get(team=team, source="github", external_id="acme/checkout#1347")
    assert action.external_ticket == "https://github.com/acme/checkout/issues/1347"
    assert action.problem_statement == "Deploys break the gateway."
    response = github_post(github_hook, "issues", github_issue("closed", title="Add a canary stage (done)"))
    assert response.status_code == 202
    action.refresh_from_db()
    assert action.title == "Add a canary stage (done)"
    assert action.stage == Stage.PLAN
    assert Action.objects.filter(source="github").count() == 1


def test_github_signature_is_checked(github_hook):
    assert github_post(github_hook, "issues", github_issue(), secret="wrong").status_code == 401
    assert not Action.objects.exists()


def test_github_issue_events_need_their_delivery_id(github_hook):
    body = json.dumps(github_issue()).encode()
    headers = {http("X-GitHub-Event"): "issues", http(github.SIGNATURE_HEADER): github.sign(github_hook.secret, body)}
    response = post(github_hook, body, **headers)
    assert response.status_code == 400 and "X-GitHub-Delivery" in response.json()["errors"]
    assert not Action.objects.exists()


def github_deployment(state=None):
    now = iso(timezone.now())
    payload = {
        "deployment": {
            "id": 145988746,
            "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
            "ref": "main",
            "task": "deploy",
            "environment": "production",
            "created_at": now,
            "updated_at": now,
            "url": "https://api.github.com/repos/acme/checkout/deployments/145988746",
        },
        "repository": REPO,
        "sender": {"login": "octocat"},
    }
    if state:
        payload["action"] = "created"
        payload["deployment_status"] = {"id": 1, "state": state, "created_at": now, "updated_at": now}
    else:
        payload["action"] = "created"
    return payload


def test_github_deployment_and_success_status_make_one_deployed_change(github_hook, team):
    service = factories.ServiceFactory(team=team, slug="checkout")
    assert github_post(github_hook, "deployment", github_deployment()).status_code == 202
    change = Change.objects.get(team=team, source="github")
    assert change.deployed_at is None and change.service == service
    assert github_post(github_hook, "deployment_status", github_deployment("success")).status_code == 202
    change.refresh_from_db()
    assert change.deployed_at is not None
    assert Change.objects.filter(source="github").count() == 1


def test_github_ping_is_acknowledged_and_ignored(github_hook):
    response = github_post(github_hook, "ping", {"zen": "Keep it simple.", "hook_id": 1})
    assert response.status_code == 202
    assert WebhookDelivery.objects.get(pk=response.json()["delivery"]).outcome == "ignored"


# --- PagerDuty --------------------------------------------------------------------


def pagerduty_event(event_type, occurred=None, incident_id="Q1ABCDEF"):
    occurred = occurred or timezone.now()
    return {
        "event": {
            "id": str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "agent": {"type": "user_reference", "summary": "Tenex Engineer"},
            "client": None,
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                "number": 2,
                "status": event_type.split(".")[1],
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": iso(timezone.now() - dt.timedelta(minutes=3)),
                "title": "Checkout API latency above SLO",
                "service": {"id": "PF9KMXH", "summary": "Checkout", "type": "service_reference"},
                "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
                "urgency": "high",
            },
        }
    }


def pagerduty_post(integration, payload, secret=None):
    body = json.dumps(payload).encode()
    signature = f"v1=0000,{pagerduty.sign(secret or integration.secret, body)}"  # several during rotation
    return post(integration, body, **{http(pagerduty.SIGNATURE_HEADER): signature})


def test_pagerduty_lifecycle_sets_incident_timestamps(team):
    hook = create_integration(team=team, source="pagerduty")
    service = factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    assert pagerduty_post(hook, pagerduty_event("incident.triggered")).status_code == 202
    incident = Incident.objects.get(team=team, source="pagerduty", external_id="Q1ABCDEF")
    assert (incident.severity, incident.service, incident.status) == ("SEV1", service, "open")
    pagerduty_post(hook, pagerduty_event("incident.acknowledged"))
    pagerduty_post(hook, pagerduty_event("incident.resolved"))
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert (incident.status, incident.resolved_at is not None) == ("resolved", True)
    first_ack = incident.acknowledged_at
    pagerduty_post(hook, pagerduty_event("incident.acknowledged"))  # a late re-ack changes nothing
    incident.refresh_from_db()
    assert incident.acknowledged_at == first_ack


def test_pagerduty_forged_is_refused(team):
    hook = create_integration(team=team, source="pagerduty")
    assert pagerduty_post(hook, pagerduty_event("incident.triggered"), secret="x").status_code == 401
    assert not Incident.objects.exists()


# --- Jira -------------------------------------------------------------------------


def jira_payload(event="jira:issue_created", issuetype="Task", resolution=None, at=None, **fields):
    return {
        "timestamp": int((at or timezone.now()).timestamp() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": "issue_created",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Alice"},
        "issue": {
            "id": "10002",
            "self": "https://acme.atlassian.net/rest/api/2/issue/10002",
            "key": "OPS-12",
            "fields": {
                "summary": "Payment gateway timeouts",
                "description": "Timeouts since the last deploy.",
                "issuetype": {"name": issuetype},
                "priority": {"name": "High"},
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                "created": "2026-01-05T10:00:00.000+0000",
                "updated": "2026-01-05T10:05:00.000+0000",
                "resolutiondate": resolution,
                **fields,
            },
        },
    }


def jira_post(integration, payload, secret=None, identifier=None):
    body = json.dumps(payload).encode()
    return post(
        integration,
        body,
        **{
            http(jira.SIGNATURE_HEADER): jira.sign(secret or integration.secret, body),
            http("X-Atlassian-Webhook-Identifier"): identifier or str(uuid.uuid4()),
        },
    )


def test_jira_incident_issue_becomes_an_incident_keeping_the_key(team):
    hook = create_integration(team=team, source="jira")
    assert jira_post(hook, jira_payload(issuetype="Incident")).status_code == 202
    incident = Incident.objects.get(team=team, source="jira", external_id="OPS-12")
    assert incident.severity == "SEV2"
    assert incident.url == "https://acme.atlassian.net/browse/OPS-12"
    resolved = jira_payload("jira:issue_updated", "Incident", resolution="2026-01-05T12:00:00.000+0000")
    assert jira_post(hook, resolved).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at == dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def test_jira_task_becomes_an_action_and_a_replayed_identifier_is_a_duplicate(team):
    hook = create_integration(team=team, source="jira")
    payload = jira_payload()
    assert jira_post(hook, payload, identifier="jira-1").status_code == 202
    second = jira_post(hook, payload, identifier="jira-1")
    assert second.json()["outcome"] == "duplicate"
    action = Action.objects.get(team=team, source="jira", external_id="OPS-12")
    assert action.external_ticket == "OPS-12"
    assert Action.objects.count() == 1


def test_jira_wrong_signature_is_refused(team):
    hook = create_integration(team=team, source="jira")
    assert jira_post(hook, jira_payload(), secret="x").status_code == 401
    assert not Action.objects.exists()


# --- ServiceNow -------------------------------------------------------------------


def servicenow_post(integration, record, timestamp=None):
    body = json.dumps({"result": record}).encode()
    timestamp = str(int(timestamp or time.time()))
    return post(
        integration,
        body,
        **{
            http("X-ServiceNow-Timestamp"): timestamp,
            http("X-ServiceNow-Signature"): generic.sign(integration.secret, timestamp, body),
        },
    )


SN_RECORD = {
    "sys_id": "9d385017c611228701d22104cc95c371",
    "number": "INC0010023",
    "short_description": "Email server down",
    "description": "Users cannot send mail.",
    "priority": "2",
    "state": "2",
    "opened_at": "2026-01-05 08:00:00",
    "resolved_at": "",
    "closed_at": "",
    "sys_updated_on": "2026-01-05 08:05:00",
    "sys_mod_count": "3",
}


def test_servicenow_incident_record_is_upserted_and_resolved(team):
    hook = create_integration(team=team, source="servicenow")
    assert servicenow_post(hook, SN_RECORD).status_code == 202
    incident = Incident.objects.get(team=team, source="servicenow", external_id="INC0010023")
    assert (incident.severity, incident.started_at) == ("SEV2", dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC))
    resolved = {**SN_RECORD, "state": "6", "resolved_at": "2026-01-05 09:30:00", "sys_mod_count": "4"}
    assert servicenow_post(hook, resolved).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at == dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    assert Incident.objects.count() == 1


def test_servicenow_stale_timestamp_is_refused(team):
    hook = create_integration(team=team, source="servicenow")
    assert servicenow_post(hook, SN_RECORD, timestamp=time.time() - 3600).status_code == 400
    assert not Incident.objects.exists()


def test_servicenow_accepts_a_base64_mac_as_glide_computes_it(team):
    import base64
    import hashlib
    import hmac as hmac_module

    hook = create_integration(team=team, source="servicenow")
    body = json.dumps({"result": SN_RECORD}).encode()
    ts = str(int(time.time()))
    mac = base64.b64encode(hmac_module.new(hook.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).digest())
    headers = {http("X-ServiceNow-Timestamp"): ts, http("X-ServiceNow-Signature"): "sha256=" + mac.decode()}
    assert post(hook, body, **headers).status_code == 202
    forged = {**headers, http("X-ServiceNow-Signature"): "sha256=" + base64.b64encode(b"x" * 32).decode()}
    assert post(hook, body.replace(b"Email", b"Mail!"), **forged).status_code == 401
    assert Incident.objects.count() == 1


def test_the_admin_leaves_queued_deliveries_to_the_drain(generic_hook, rf):
    response = post(
        generic_hook,
        body := json.dumps(GENERIC_INCIDENT).encode(),
        drain=False,
        **{
            http(generic.TIMESTAMP_HEADER): (ts := str(int(time.time()))),
            http(generic.SIGNATURE_HEADER): generic.sign(generic_hook.secret, ts, body),
        },
    )
    assert response.status_code == 202
    admin = site._registry[WebhookDelivery]
    request = rf.post("/admin/")
    request.user = factories.UserFactory(is_superuser=True, is_staff=True)
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    admin.reprocess(request, WebhookDelivery.objects.all())
    assert WebhookDelivery.objects.get().outcome == "queued" and not Incident.objects.exists()
    assert drain_inbox() == 1
    assert Incident.objects.filter(external_id="ALERT-9").count() == 1


# --- Late deliveries from senders that sign only the body --------------------------------
# GitHub, Jira and PagerDuty sign no time: a retry hours later is the same signed body. Their
# replays are refused by the delivery id; only an event older than the maximum age is refused.


def late_github(hook, late, delivery):
    return github_post(hook, "issues", github_issue(updated=timezone.now() - late), delivery=delivery)


def late_jira(hook, late, delivery):
    return jira_post(hook, jira_payload(at=timezone.now() - late), identifier=delivery)


def late_pagerduty(hook, late, delivery):
    payload = pagerduty_event("incident.triggered", occurred=timezone.now() - late)
    payload["event"]["id"] = delivery
    return pagerduty_post(hook, payload)


BODY_SIGNERS = [("github", late_github, Action), ("jira", late_jira, Action), ("pagerduty", late_pagerduty, Incident)]


@pytest.mark.parametrize(("source", "send", "model"), BODY_SIGNERS)
@pytest.mark.parametrize("late", [dt.timedelta(minutes=12), dt.timedelta(hours=47)], ids=["12min", "47h"])
def test_a_body_signed_delivery_retried_late_is_stored_and_applied(team, source, send, model, late):
    hook = create_integration(team=team, source=source)
    response = send(hook, late, "delivery-1")
    assert response.status_code == 202, response.json()
    assert WebhookDelivery.objects.get().outcome == "processed"
    assert model.objects.filter(team=team, source=source).count() == 1


@pytest.mark.parametrize(("source", "send", "model"), BODY_SIGNERS)
def test_a_retry_of_a_stored_delivery_is_a_duplicate_however_late(team, source, send, model):
    hook = create_integration(team=team, source=source)
    assert send(hook, dt.timedelta(minutes=1), "delivery-1").status_code == 202
    retry = send(hook, dt.timedelta(minutes=1), "delivery-1")  # the same body, hours later: same signed time
    assert (retry.status_code, retry.json()["outcome"]) == (200, "duplicate")
    assert model.objects.filter(team=team, source=source).count() == 1


@pytest.mark.parametrize(("source", "send", "model"), BODY_SIGNERS)
def test_a_body_signed_event_older_than_the_maximum_age_is_refused(team, settings, source, send, model):
    settings.WEBHOOK_MAX_EVENT_AGE_DAYS = 7
    hook = create_integration(team=team, source=source)
    response = send(hook, dt.timedelta(days=7, minutes=1), "delivery-1")
    assert response.status_code == 400
    assert response.json()["code"] == "event_too_old"
    assert "7 days" in response.json()["message"]
    assert WebhookDelivery.objects.get().outcome == "refused"
    assert not model.objects.exists()


def test_signed_times_still_have_five_minutes(generic_hook, team):
    """The generic format and ServiceNow sign the send time: a retry is signed anew, so 5 minutes hold."""
    assert generic_post(generic_hook, GENERIC_INCIDENT, timestamp=time.time() - 4 * 60).status_code == 202
    hook = create_integration(team=team, source="servicenow")
    assert servicenow_post(hook, SN_RECORD, timestamp=time.time() - 6 * 60).status_code == 400


# --- Matching and unused events ----------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "name"), [("hello-world", "Hello service"), ("hw", "hello-world"), ("hw2", "HELLO-WORLD")]
)
def test_a_github_deployment_finds_its_service_ignoring_case(github_hook, team, slug, name):
    service = factories.ServiceFactory(team=team, slug=slug.lower(), name=name)
    factories.ServiceFactory(team=team, slug="hello-world-2", name="Hello-World 2")  # never a prefix match
    payload = github_deployment()
    payload["repository"] = {**REPO, "name": "Hello-World", "full_name": "octocat/Hello-World"}
    assert github_post(github_hook, "deployment", payload).status_code == 202
    assert Change.objects.get(team=team, source="github").service == service


def test_a_github_deployment_prefers_the_service_whose_slug_is_the_repository(github_hook, team):
    by_slug = factories.ServiceFactory(team=team, slug="hello-world", name="Storefront")
    factories.ServiceFactory(team=team, slug="legacy", name="Hello-World")
    payload = github_deployment()
    payload["repository"] = {**REPO, "name": "Hello-World", "full_name": "octocat/Hello-World"}
    github_post(github_hook, "deployment", payload)
    assert Change.objects.get(team=team, source="github").service == by_slug


def test_a_pagerduty_incident_without_created_at_starts_when_the_event_occurred(team):
    hook = create_integration(team=team, source="pagerduty")
    occurred = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=20)
    payload = pagerduty_event("incident.triggered", occurred=occurred)
    del payload["event"]["data"]["created_at"]
    assert pagerduty_post(hook, payload).status_code == 202
    assert WebhookDelivery.objects.get().outcome == "processed"
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert incident.started_at == incident.detected_at == occurred


@pytest.mark.parametrize(
    ("source", "send"),
    [
        ("github", lambda hook: github_post(hook, "push", {"ref": "refs/heads/main", "repository": REPO})),
        ("github", lambda hook: github_post(hook, "ping", {"zen": "Keep it simple.", "hook_id": 1})),
        ("pagerduty", lambda hook: pagerduty_post(hook, pagerduty_event("incident.annotated"))),
        ("pagerduty", lambda hook: pagerduty_post(hook, {"event": {"id": "e-1", "event_type": "pagey.ping"}})),
        ("jira", lambda hook: jira_post(hook, {"webhookEvent": "comment_created", "comment": {"id": "1"}})),
        ("jira", lambda hook: jira_post(hook, jira_payload("jira:issue_deleted"))),
    ],
)
def test_an_event_type_not_used_is_recorded_ignored_with_the_reason(team, source, send):
    hook = create_integration(team=team, source=source)
    response = send(hook)
    assert response.status_code == 202, response.json()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "ignored"
    assert delivery.event in delivery.error and "not used" in delivery.error
    assert delivery.result == {"ignored": delivery.error}
    assert not Incident.objects.exists() and not Action.objects.exists() and not Change.objects.exists()


# --- Order-safe application: late or out-of-order deliveries never move an incident back --------


T_TRIGGERED = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)


def pd_at(event_type, occurred, **data):
    """A PagerDuty event of `occurred`, about the incident created just before T_TRIGGERED."""
    payload = pagerduty_event(event_type, occurred=occurred)
    payload["event"]["data"].update({"created_at": iso(T_TRIGGERED - dt.timedelta(minutes=1)), **data})
    return payload


def test_a_late_triggered_after_the_resolved_does_not_reopen(team):
    hook = create_integration(team=team, source="pagerduty")
    created = T_TRIGGERED - dt.timedelta(minutes=30)
    resolved_at = T_TRIGGERED + dt.timedelta(minutes=40)
    assert pagerduty_post(hook, pd_at("incident.resolved", resolved_at, created_at=iso(created))).status_code == 202
    late = pd_at("incident.triggered", T_TRIGGERED, created_at=iso(created), title="Old title", urgency="low")
    late["event"]["data"]["priority"] = None
    assert pagerduty_post(hook, late).status_code == 202
    assert [d.outcome for d in WebhookDelivery.objects.order_by("id")] == ["processed", "processed"]
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert (incident.status, incident.resolved_at, incident.source_event_at) == ("resolved", resolved_at, resolved_at)
    assert (incident.title, incident.severity) == ("Checkout API latency above SLO", "SEV1")  # the newer values


def test_a_late_triggered_after_the_acknowledged_keeps_the_acknowledgement(team):
    hook = create_integration(team=team, source="pagerduty")
    acked_at = T_TRIGGERED + dt.timedelta(minutes=5)
    pagerduty_post(hook, pd_at("incident.acknowledged", acked_at, title="Checkout down"))
    late = pd_at("incident.triggered", T_TRIGGERED, title="Checkout slow", urgency="low")
    late["event"]["data"]["priority"] = None
    pagerduty_post(hook, late)
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert (incident.status, incident.acknowledged_at) == ("open", acked_at)
    assert (incident.title, incident.severity, incident.source_event_at) == ("Checkout down", "SEV1", acked_at)


def test_a_late_acknowledged_after_the_resolved_fills_the_acknowledgement_only(team):
    hook = create_integration(team=team, source="pagerduty")
    acked_at, resolved_at = T_TRIGGERED + dt.timedelta(minutes=5), T_TRIGGERED + dt.timedelta(minutes=40)
    pagerduty_post(hook, pd_at("incident.resolved", resolved_at))
    pagerduty_post(hook, pd_at("incident.acknowledged", acked_at))
    incident = Incident.objects.get(team=team, source="pagerduty")
    assert (incident.status, incident.acknowledged_at, incident.resolved_at) == ("resolved", acked_at, resolved_at)


def test_two_jira_updates_out_of_order_keep_the_newest(team):
    hook = create_integration(team=team, source="jira")
    t1, t2 = T_TRIGGERED, T_TRIGGERED + dt.timedelta(minutes=10)
    newer = jira_payload("jira:issue_updated", "Incident", at=t2, summary="Gateway down", priority={"name": "Highest"})
    older = jira_payload("jira:issue_updated", "Incident", at=t1, summary="Gateway slow", priority={"name": "Medium"})
    assert jira_post(hook, newer).status_code == 202
    assert jira_post(hook, older).status_code == 202
    incident = Incident.objects.get(team=team, source="jira")
    assert (incident.title, incident.severity, incident.source_event_at) == ("Gateway down", "SEV1", t2)


def test_a_late_unresolved_jira_update_never_reopens_nor_a_late_resolution_resolves(team):
    hook = create_integration(team=team, source="jira")
    t1, t2, t3 = (T_TRIGGERED + dt.timedelta(minutes=m) for m in (0, 10, 20))
    resolution = "2026-01-05T12:00:00.000+0000"
    jira_post(hook, jira_payload("jira:issue_updated", "Incident", at=t3, summary="Reopened in Jira"))
    jira_post(hook, jira_payload("jira:issue_updated", "Incident", at=t2, resolution=resolution))  # older: not applied
    assert Incident.objects.get(team=team, source="jira").status == "open"
    jira_post(
        hook, jira_payload("jira:issue_updated", "Incident", at=t3 + dt.timedelta(minutes=1), resolution=resolution)
    )
    jira_post(hook, jira_payload("jira:issue_updated", "Incident", at=t1))
    incident = Incident.objects.get(team=team, source="jira")
    assert (incident.status, incident.title) == ("resolved", "Payment gateway timeouts")


def test_servicenow_versions_out_of_order_keep_the_newest(team):
    hook = create_integration(team=team, source="servicenow")
    resolved = {
        **SN_RECORD,
        "state": "6",
        "resolved_at": "2026-01-05 09:30:00",
        "sys_updated_on": "2026-01-05 09:30:00",
    }
    resolved.update(sys_mod_count="5", short_description="Email server down (fixed)")
    assert servicenow_post(hook, resolved).status_code == 202
    assert servicenow_post(hook, SN_RECORD).status_code == 202  # version 3, from 08:05, arrives last
    incident = Incident.objects.get(team=team, source="servicenow")
    assert (incident.status, incident.title) == ("resolved", "Email server down (fixed)")


def test_generic_incidents_with_occurred_at_keep_the_newest(generic_hook, team):
    newer = {
        "id": "e-2",
        "type": "incident",
        "occurred_at": "2026-01-01T11:00:00Z",
        "data": {
            "external_id": "ALERT-9",
            "title": "Resolved",
            "started_at": "2026-01-01T10:00:00Z",
            "status": "resolved",
            "resolved_at": "2026-01-01T11:00:00Z",
        },
    }
    older = {
        "id": "e-1",
        "type": "incident",
        "occurred_at": "2026-01-01T10:00:00Z",
        "data": {"external_id": "ALERT-9", "title": "Firing", "started_at": "2026-01-01T10:00:00Z", "status": "open"},
    }
    assert generic_post(generic_hook, newer).status_code == 202
    assert generic_post(generic_hook, older).status_code == 202
    incident = Incident.objects.get(team=team, external_id="ALERT-9")
    assert (incident.status, incident.title) == ("resolved", "Resolved")
    bad = generic_post(generic_hook, {**older, "id": "e-3", "occurred_at": "soon"})
    assert bad.status_code == 400 and "occurred_at" in bad.json()["errors"]


def test_without_an_event_time_deliveries_apply_in_arrival_order(generic_hook, team):
    generic_post(generic_hook, {**GENERIC_INCIDENT, "id": "a", "data": {**GENERIC_INCIDENT["data"], "title": "One"}})
    generic_post(generic_hook, {**GENERIC_INCIDENT, "id": "b", "data": {**GENERIC_INCIDENT["data"], "title": "Two"}})
    incident = Incident.objects.get(team=team, external_id="ALERT-9")
    assert (incident.title, incident.source_event_at) == ("Two", None)
