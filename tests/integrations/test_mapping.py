"""The lead's mapping per integration: source value → service, source severity → SEV1–SEV4.

Through the hooks (vendor payloads of tests/integrations), the integration page and the API;
the "try this mapping" preview writes nothing.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Change, Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration, update_integration_mapping
from tests import factories
from tests.integrations.test_alertmanager import notification
from tests.integrations.test_alertmanager import send as am_send
from tests.integrations.test_opsgenie import CREATE, recent
from tests.integrations.test_opsgenie import send as og_send
from tests.integrations.test_webhooks import (
    REPO,
    github_deployment,
    github_post,
    jira_payload,
    jira_post,
    pagerduty_event,
    pagerduty_post,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkout(team):
    return factories.ServiceFactory(team=team, slug="checkout", name="Checkout")


@pytest.fixture
def alertmanager_hook(team):
    return create_integration(team=team, source=Integration.Source.ALERTMANAGER)


# --- Applied by every source ------------------------------------------------------------------


def test_alertmanager_labels_follow_the_mapping_and_unmapped_ones_the_defaults(alertmanager_hook, team, checkout):
    update_integration_mapping(
        integration=alertmanager_hook, service_map={" checkout ": "checkout"}, severity_map={"Warning": "sev2"}
    )
    assert alertmanager_hook.service_map == {"checkout": "checkout"} and alertmanager_hook.severity_map == {
        "warning": "SEV2"
    }
    am_send(alertmanager_hook, notification(), alertmanager_hook.bearer_token)
    first, second = Incident.objects.filter(team=team).order_by("external_id").reverse()
    assert (first.service, first.severity) == (checkout, "SEV1")  # label "Checkout"; critical: the default
    assert second.severity == "SEV2"  # warning, mapped


def test_a_mapped_value_wins_over_the_same_name(alertmanager_hook, team, checkout):
    payments = factories.ServiceFactory(team=team, slug="payments", name="Payments")
    update_integration_mapping(integration=alertmanager_hook, service_map={"CHECKOUT": "payments"})
    am_send(alertmanager_hook, notification(alerts=[0]), alertmanager_hook.bearer_token)
    assert Incident.objects.get(team=team).service == payments


def test_pagerduty_service_and_priority_follow_the_mapping(team, checkout):
    hook = create_integration(team=team, source="pagerduty")
    update_integration_mapping(
        integration=hook, service_map={"Checkout API (prod)": "checkout"}, severity_map={"p1": "SEV2"}
    )
    payload = pagerduty_event("incident.triggered")
    payload["event"]["data"]["service"]["summary"] = "Checkout API (prod)"
    pagerduty_post(hook, payload)
    incident = Incident.objects.get(team=team)
    assert (incident.service, incident.severity) == (checkout, "SEV2")


def test_jira_project_key_defaults_to_the_service_of_that_slug_ignoring_case(team):
    ops = factories.ServiceFactory(team=team, slug="ops", name="Operations")
    hook = create_integration(team=team, source="jira")
    update_integration_mapping(integration=hook, severity_map={"lowest": "SEV1"})
    jira_post(hook, jira_payload(issuetype="Incident", project={"key": "OPS"}, priority={"name": "Lowest"}))
    incident = Incident.objects.get(team=team, source="jira")
    assert (incident.service, incident.severity) == (ops, "SEV1")


def test_servicenow_ci_and_github_repository_follow_the_mapping(team, checkout):
    from tests.integrations.test_webhooks import SN_RECORD, servicenow_post

    sn = create_integration(team=team, source="servicenow")
    update_integration_mapping(integration=sn, service_map={"EXCH-SRV-01": "checkout"}, severity_map={"1": "SEV2"})
    servicenow_post(sn, {**SN_RECORD, "cmdb_ci": {"value": "a1b2", "display_value": "EXCH-SRV-01"}})
    assert Incident.objects.get(team=team, source="servicenow").service == checkout
    gh = create_integration(team=team, source="github")
    update_integration_mapping(integration=gh, service_map={"shop-frontend": "checkout"})
    payload = github_deployment()
    payload["repository"] = {**REPO, "name": "shop-frontend", "full_name": "acme/shop-frontend"}
    github_post(gh, "deployment", payload)
    assert Change.objects.get(team=team, source="github").service == checkout


def test_opsgenie_entity_and_priority_follow_the_mapping(team, checkout):
    hook = create_integration(team=team, source=Integration.Source.OPSGENIE)
    update_integration_mapping(integration=hook, service_map={"shop-db": "checkout"}, severity_map={"P3": "SEV1"})
    og_send(hook, recent(CREATE, entity="shop-db", priority="P3"), hook.bearer_token)
    incident = Incident.objects.get(team=team)
    assert (incident.service, incident.severity) == (checkout, "SEV1")


@pytest.mark.parametrize(
    ("service_map", "severity_map", "field"),
    [
        ({"x": "no-such-service"}, None, "service_map"),
        (None, {"x": "SEV9"}, "severity_map"),
        ({"  ": "checkout"}, None, "service_map"),
        ("not a map", None, "service_map"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_map_and_nothing_is_saved(
    alertmanager_hook, checkout, service_map, severity_map, field
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        update_integration_mapping(integration=alertmanager_hook, service_map=service_map, severity_map=severity_map)
    assert field in error.value.message_dict
    stored = Integration.objects.get(pk=alertmanager_hook.pk)
    assert (stored.service_map, stored.severity_map) == ({}, {})


# --- The integration page ------------------------------------------------------------------------


def page(team, hook):
    return f"/t/{team.slug}/settings/integrations/{hook.pk}/"


def test_a_lead_sees_and_saves_the_mapping_on_the_integration_page(client, lead, team, alertmanager_hook, checkout):
    client.force_login(lead)
    response = client.post(
        page(team, alertmanager_hook) + "mapping/",
        {"service_map": "Checkout-Prod = checkout\n\n", "severity_map": "page = SEV1\nwarning = sev2", "save": ""},
    )
    assert response.status_code == 302
    alertmanager_hook.refresh_from_db()
    assert alertmanager_hook.service_map == {"checkout-prod": "checkout"}
    assert alertmanager_hook.severity_map == {"page": "SEV1", "warning": "SEV2"}
    html = client.get(page(team, alertmanager_hook)).content.decode()
    assert "checkout-prod = checkout" in html and "warning = SEV2" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"service_map": "checkout"}, "source value = target"),
        ({"service_map": "x = nowhere"}, "nowhere"),
        ({"severity_map": "x = SEV7"}, "SEV1, SEV2, SEV3 or SEV4"),
    ],
)
def test_a_bad_line_is_a_form_error_and_saves_nothing(client, lead, team, alertmanager_hook, checkout, data, message):
    client.force_login(lead)
    response = client.post(page(team, alertmanager_hook) + "mapping/", {"save": "", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Integration.objects.get(pk=alertmanager_hook.pk).service_map == {}


def _stored_delivery(hook):
    am_send(hook, notification(), hook.bearer_token)
    return WebhookDelivery.objects.get(integration=hook, outcome="processed")


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def test_try_this_mapping_shows_what_a_stored_delivery_becomes_and_writes_nothing(
    client, lead, team, alertmanager_hook, checkout
):
    delivery = _stored_delivery(alertmanager_hook)
    client.force_login(lead)
    client.get(page(team, alertmanager_hook))  # the session is written once, on login: not by the preview
    before = (
        Incident.objects.count(),
        WebhookDelivery.objects.count(),
        Integration.objects.get(pk=alertmanager_hook.pk).service_map,
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            page(team, alertmanager_hook) + "mapping/",
            {
                "service_map": "checkout = checkout",
                "severity_map": "warning = SEV1",
                "delivery": delivery.pk,
                "preview": "1",
            },
        )
    assert response.status_code == 200
    assert _writes(queries.captured_queries) == []
    after = (
        Incident.objects.count(),
        WebhookDelivery.objects.count(),
        Integration.objects.get(pk=alertmanager_hook.pk).service_map,
    )
    assert before == after == (2, 1, {})
    rows = response.context["preview"]
    assert rows == [
        {
            "service_value": "Checkout",
            "service": "checkout",
            "service_rule": "mapping",
            "severity_value": "critical",
            "severity": "SEV1",
            "severity_rule": "default",
        },
        {
            "service_value": "",
            "service": None,
            "service_rule": "none",
            "severity_value": "warning",
            "severity": "SEV1",
            "severity_rule": "mapping",
        },
    ]
    assert 'id="mapping-preview"' in response.content.decode()


def test_the_preview_needs_a_delivery_of_this_integration(client, lead, team, alertmanager_hook, other_team):
    other = create_integration(team=other_team, source=Integration.Source.ALERTMANAGER)
    foreign = _stored_delivery(other)
    client.force_login(lead)
    for chosen in ("", foreign.pk):
        response = client.post(page(team, alertmanager_hook) + "mapping/", {"delivery": chosen, "preview": "1"})
        assert response.status_code == 400
        assert response.context["mapping_form"].errors["delivery"]


def test_the_mapping_page_is_a_leads_and_its_teams_only(client, team, member, viewer, other_team, alertmanager_hook):
    url = page(team, alertmanager_hook) + "mapping/"
    for user in (member, viewer):
        client.force_login(user)
        assert client.post(url, {"service_map": "", "save": ""}).status_code == 403
    client.force_login(factories.MembershipFactory(team=other_team, role="lead").user)
    assert client.post(url, {"service_map": "", "save": ""}).status_code == 404
    assert client.get(url).status_code in (404, 405)


def test_the_integration_page_runs_a_constant_number_of_queries(client, lead, team, alertmanager_hook):
    client.force_login(lead)
    _stored_delivery(alertmanager_hook)
    client.get(page(team, alertmanager_hook))
    with CaptureQueriesContext(connection) as small:
        client.get(page(team, alertmanager_hook))
    for _ in range(5):
        am_send(
            alertmanager_hook, notification("resolved", ends=f"2026-01-05T11:0{_}:00Z"), alertmanager_hook.bearer_token
        )
    with CaptureQueriesContext(connection) as large:
        client.get(page(team, alertmanager_hook))
    assert len(small.captured_queries) == len(large.captured_queries)


# --- The API -------------------------------------------------------------------------------------


def api_url(hook, tail="mapping/"):
    return f"/api/v1/integrations/{hook.pk}/{tail}"


def test_a_lead_reads_and_replaces_the_mapping_through_the_api(make_client, team, alertmanager_hook, checkout):
    api, _token = make_client(team)
    assert api.get(api_url(alertmanager_hook)).json() == {"service_map": {}, "severity_map": {}}
    response = api.put(
        api_url(alertmanager_hook),
        {"service_map": {"Checkout-Prod": "checkout"}, "severity_map": {"Page": "SEV1"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"service_map": {"checkout-prod": "checkout"}, "severity_map": {"page": "SEV1"}}
    listed = api.get("/api/v1/integrations/").json()
    assert [row["id"] for row in listed["results"]] == [alertmanager_hook.pk]
    assert "secret" not in listed["results"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_map": {"x": "nowhere"}}, "service_map"),
        ({"severity_map": {"x": "SEV0"}}, "severity_map"),
        ({"severity_map": ["SEV1"]}, "severity_map"),
    ],
)
def test_a_bad_mapping_through_the_api_is_400_naming_the_field(make_client, team, alertmanager_hook, body, field):
    api, _token = make_client(team)
    response = api.put(api_url(alertmanager_hook), body, format="json")
    assert response.status_code == 400
    assert field in json.dumps(response.json())
    assert Integration.objects.get(pk=alertmanager_hook.pk).severity_map == {}


def test_the_api_preview_maps_a_stored_delivery_and_writes_nothing(make_client, team, alertmanager_hook, checkout):
    delivery = _stored_delivery(alertmanager_hook)
    api, _token = make_client(team)
    counts = (Incident.objects.count(), WebhookDelivery.objects.count())
    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            api_url(alertmanager_hook, "mapping/preview/"),
            {"delivery": delivery.pk, "severity_map": {"critical": "SEV2"}},
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["written"] is False and body["rows"][0]["severity"] == "SEV2"
    assert body["rows"][0]["service"] == "checkout" and body["rows"][0]["service_rule"] == "default"
    assert [sql for sql in _writes(queries.captured_queries) if "teams_integration" in sql or "incident" in sql] == []
    assert (Incident.objects.count(), WebhookDelivery.objects.count()) == counts
    assert Integration.objects.get(pk=alertmanager_hook.pk).severity_map == {}
    missing = api.post(api_url(alertmanager_hook, "mapping/preview/"), {"delivery": 999999}, format="json")
    assert missing.status_code == 400 and "delivery" in missing.json()["errors"]


def test_the_api_mapping_is_a_leads_and_its_teams_only(make_client, team, other_team, alertmanager_hook):
    member = factories.MembershipFactory(team=team, role="member").user
    as_member, _ = make_client(team, by=member)
    assert as_member.get(api_url(alertmanager_hook)).status_code == 403
    assert as_member.put(api_url(alertmanager_hook), {"severity_map": {}}, format="json").status_code == 403
    assert as_member.get("/api/v1/integrations/").json()["results"] == []
    outsider, _ = make_client(other_team)
    assert outsider.get(api_url(alertmanager_hook)).status_code == 404
    assert (
        outsider.post(api_url(alertmanager_hook, "mapping/preview/"), {"delivery": 1}, format="json").status_code == 404
    )
    read_only, _ = make_client(team, scope="read")
    assert read_only.put(api_url(alertmanager_hook), {"severity_map": {}}, format="json").status_code == 403


def test_the_api_list_runs_a_constant_number_of_queries(make_client, team):
    api, _token = make_client(team)
    create_integration(team=team, source="jira")
    api.get("/api/v1/integrations/")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as small:
        api.get("/api/v1/integrations/")
    for source in ("github", "pagerduty", "opsgenie"):
        create_integration(team=team, source=source)
    with CaptureQueriesContext(connection) as large:
        assert len(api.get("/api/v1/integrations/").json()["results"]) == 4
    assert len(small.captured_queries) == len(large.captured_queries)
