"""An incident created through the API is in its team's audit log once, with who and from where.

The by-ref upsert writes the incident and its audit entry through core.audit.insert_audited:
this follows it from the token's request to the lead's audit page.
"""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from incidents.models import Incident
from tests import factories

pytestmark = pytest.mark.django_db


def creation_entries(incident):
    return LogEntry.objects.filter(content_type__model="incident", object_id=incident.pk, action=LogEntry.Action.CREATE)


def test_an_upserted_incident_has_one_creation_entry_with_its_author_on_the_teams_audit_page(
    client, team, other_team, make_client
):
    lead = factories.MembershipFactory(team=team, role="lead").user
    api, _token = make_client(team, by=lead)
    body = {"title": "Payments 502s", "severity": "SEV2", "started_at": "2026-11-27T04:00:00Z"}
    response = api.put("/api/v1/incidents/by-ref/jira/OPS-9/", body, format="json", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 201, response.json()
    assert response.json()["timeline"] == []
    incident = Incident.objects.get(pk=response.json()["id"])

    [entry] = creation_entries(incident)
    assert entry.actor_id == lead.pk
    assert entry.remote_addr == "198.51.100.4"
    assert entry.additional_data == {"team_id": team.pk}
    assert entry.changes["title"] == ["None", "Payments 502s"]
    assert entry.changes["external_id"] == ["None", "OPS-9"]

    # The same reference again is an update: no second creation entry.
    again = api.put("/api/v1/incidents/by-ref/jira/OPS-9/", {"title": "Payments 503s"}, format="json")
    assert again.status_code == 200
    assert creation_entries(incident).count() == 1

    client.force_login(lead)
    page = client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()
    assert "Payments 502s" in page and lead.username in page
    outsider = factories.MembershipFactory(team=other_team, role="lead").user
    client.force_login(outsider)
    assert "Payments 50" not in client.get(reverse("teams:audit_log", args=[other_team.slug])).content.decode()


def test_a_service_tokens_incident_has_no_person_as_actor_and_the_next_request_is_not_its_holders(team):
    from teams.models import ApiToken
    from teams.services import create_api_token
    from tests.conftest import client_for

    lead = factories.MembershipFactory(team=team, role="lead").user
    _t, personal = create_api_token(team=team, name="p", scope=ApiToken.Scope.READ_WRITE, by=lead)
    _t, service = create_api_token(
        team=team, name="s", scope=ApiToken.Scope.READ_WRITE, kind=ApiToken.Kind.SERVICE, by=lead
    )
    body = {"title": "Disk full", "severity": "SEV3", "started_at": "2026-11-27T04:00:00Z"}
    assert client_for(personal).put("/api/v1/incidents/by-ref/jira/A/", body, format="json").status_code == 201
    assert client_for(service).put("/api/v1/incidents/by-ref/jira/B/", body, format="json").status_code == 201
    by_ref = {i.external_id: i for i in Incident.objects.filter(team=team, source="jira")}
    assert creation_entries(by_ref["A"]).get().actor_id == lead.pk
    assert creation_entries(by_ref["B"]).get().actor_id is None  # a service token has no person behind it
