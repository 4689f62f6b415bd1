"""Service tokens belong to the team: a lead creates and revokes them, and no one leaving breaks them."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents.models import Incident
from teams.models import ApiToken, Membership
from teams.services import change_member_role, create_api_token, remove_member
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

INCIDENT = {"title": "Queue backlog", "severity": "SEV3", "started_at": "2026-01-05T10:00:00Z"}


def service_token(team, by, scope="read_write"):
    token, key = create_api_token(team=team, name="jira", scope=scope, kind=ApiToken.Kind.SERVICE, by=by)
    return client_for(key), token


def test_existing_and_default_tokens_are_personal(team, lead):
    token, _key = create_api_token(team=team, name="script", by=lead)
    assert token.kind == ApiToken.Kind.PERSONAL


def test_a_service_token_survives_its_creator_leaving_the_team(team, lead):
    factories.MembershipFactory(team=team, role="lead")
    client, token = service_token(team, lead)
    remove_member(membership=Membership.objects.get(team=team, user=lead))
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.get("/api/v1/incidents/").status_code == 200
    response = client.post("/api/v1/incidents/", INCIDENT, format="json")
    assert response.status_code == 201, response.json()
    assert Incident.objects.get(pk=response.json()["id"]).created_by is None  # no person behind it


def test_a_service_token_is_not_capped_by_its_creators_demotion(team, lead):
    factories.MembershipFactory(team=team, role="lead")
    client, _token = service_token(team, lead)
    change_member_role(membership=Membership.objects.get(team=team, user=lead), role="viewer")
    assert client.post("/api/v1/incidents/", INCIDENT, format="json").status_code == 201


def test_a_service_token_writes_as_a_member_never_as_a_lead(team, lead):
    client, _token = service_token(team, lead)
    factories.UserFactory(username="newcomer")
    assert client.post("/api/v1/memberships/", {"user": "newcomer"}, format="json").status_code == 403
    body = {"name": "Weekly board", "weekday": 0, "time_of_day": "10:00"}
    assert client.post("/api/v1/rituals/", body, format="json").status_code == 403


def test_a_read_service_token_cannot_write(team, lead):
    client, _token = service_token(team, lead, scope="read")
    assert client.get("/api/v1/incidents/").status_code == 200
    assert client.post("/api/v1/incidents/", INCIDENT, format="json").status_code == 403


def test_a_service_token_sees_only_its_team(team, other_team, lead):
    factories.IncidentFactory(team=other_team)
    mine = factories.IncidentFactory(team=team)
    client, _token = service_token(team, lead, scope="read")
    assert [row["id"] for row in client.get("/api/v1/incidents/").json()["results"]] == [mine.pk]


def test_only_a_lead_creates_a_service_token(team, member):
    with pytest.raises(ValidationError) as error:
        create_api_token(team=team, name="jira", kind=ApiToken.Kind.SERVICE, by=member)
    assert "kind" in error.value.message_dict
    assert not ApiToken.objects.exists()


def test_a_lead_creates_a_service_token_on_the_tokens_page(client, team, lead):
    client.force_login(lead)
    url = reverse("teams:tokens", args=[team.slug])
    response = client.post(url, {"name": "ServiceNow", "scope": "read_write", "kind": "service"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ServiceNow")
    assert token.kind == ApiToken.Kind.SERVICE
    assert "service token" in response.content.decode()


def test_a_bad_kind_on_the_tokens_page_is_a_400_on_the_field(client, team, lead):
    client.force_login(lead)
    response = client.post(reverse("teams:tokens", args=[team.slug]), {"name": "x", "scope": "read", "kind": "root"})
    assert response.status_code == 400
    assert "kind" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_members_and_other_teams_leads_cannot_reach_the_tokens_page(client, team, member, other_team):
    outsider = factories.MembershipFactory(team=other_team, role="lead").user
    # A member knows the team: 403, the page needs a lead. A lead of another team: 404, no hint.
    for user, refused in ((member, 403), (outsider, 404)):
        client.force_login(user)
        assert client.get(reverse("teams:tokens", args=[team.slug])).status_code == refused
        response = client.post(
            reverse("teams:tokens", args=[team.slug]), {"name": "x", "scope": "read", "kind": "service"}
        )
        assert response.status_code == refused
    assert not ApiToken.objects.exists()


def test_a_member_cannot_revoke_a_service_token(client, team, lead, member):
    _client, token = service_token(team, lead)
    client.force_login(member)
    assert client.post(reverse("teams:revoke_token", args=[team.slug, token.pk])).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_tokens_page_shows_owner_kind_effective_scope_and_last_use(client, team, lead):
    demoted = factories.MembershipFactory(team=team, role="member").user
    personal_client = client_for(create_api_token(team=team, name="old script", scope="read_write", by=demoted)[1])
    assert personal_client.get("/api/v1/incidents/").status_code == 200
    change_member_role(membership=Membership.objects.get(team=team, user=demoted), role="viewer")
    service_token(team, lead)
    client.force_login(lead)
    page = client.get(reverse("teams:tokens", args=[team.slug])).content.decode()
    assert "read_write, capped to read: holder is now a viewer" in page
    assert "the team" in page and "service token" in page
    assert "read_write, as a member" in page
    assert "never" in page  # the service token's last use
    assert ApiToken.objects.get(name="old script").last_used_at is not None


def test_the_tokens_page_reads_in_a_fixed_number_of_queries(client, team, lead, django_assert_max_num_queries):
    for index in range(5):
        create_api_token(team=team, name=f"t{index}", by=factories.MembershipFactory(team=team, role="member").user)
    client.force_login(lead)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("teams:tokens", args=[team.slug])).status_code == 200
