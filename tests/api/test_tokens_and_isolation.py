"""Tokens authenticate, are scoped to one team and one scope, and never reach another team's rows."""

import pytest
from django.utils import timezone

from improvement.models import Action
from incidents.models import Change, Incident, Problem, TimelineEvent
from rituals.models import Ritual
from teams.models import ApiToken, Service
from teams.services import create_api_token, revoke_api_token
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

# resource path → key in the world fixture
RESOURCES = {
    "memberships": "membership",
    "services": "service",
    "incidents": "incident",
    "problems": "problem",
    "postmortems": "postmortem",
    "changes": "change",
    "actions": "action",
    "rituals": "ritual",
    "review-sessions": "review_session",
}


def test_token_key_is_stored_hashed_and_shown_once(team, lead):
    token, key = create_api_token(team=team, name="jira", scope="read", by=lead)
    stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith(f"okz_{stored.prefix}_")
    assert key not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == ApiToken.hash_key(key)


def test_a_valid_token_reads_and_records_last_use(team, make_client, world):
    client, token = make_client(team, scope="read")
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world["a"]["incident"].pk]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_wrong_or_revoked_token_is_401_in_the_error_shape(team, make_client):
    client, token = make_client(team)
    revoke_api_token(token=token)
    for candidate in (client, client_for("okz_deadbeef_nope"), client_for("garbage")):
        response = candidate.get("/api/v1/incidents/")
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"code", "message", "errors"}
        assert body["code"] in ("authentication_failed", "not_authenticated", "token_revoked")


def test_no_credentials_is_401(db):
    response = client_for().get("/api/v1/actions/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_read_token_cannot_write(team, make_client):
    client, _token = make_client(team, scope="read")
    response = client.post("/api/v1/problems/", {"title": "Disk fills up"}, format="json")
    assert response.status_code == 403
    assert not Problem.objects.exists()


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_token_lists_only_its_own_team(resource, team, make_client, world):
    client, _token = make_client(team, scope="read")
    response = client.get(f"/api/v1/{resource}/")
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert world["a"][RESOURCES[resource]].pk in ids
    assert world["b"][RESOURCES[resource]].pk not in ids


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_teams_object_is_404_to_read_and_to_change(resource, team, make_client, world):
    client, _token = make_client(team)
    other = world["b"][RESOURCES[resource]]
    assert client.get(f"/api/v1/{resource}/{other.pk}/").status_code == 404
    response = client.patch(f"/api/v1/{resource}/{other.pk}/", {"title": "hijacked"}, format="json")
    assert response.status_code in (404, 405)
    if response.status_code == 404:
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path,body",
    [
        ("incidents/{incident}/timeline/", {"text": "x"}),
        ("postmortems/{postmortem}/factors/", {"category": "change", "description": "x"}),
        ("postmortems/{postmortem}/transition/", {"to_status": "in_review"}),
        ("actions/{action}/transition/", {"to_stage": "do"}),
    ],
)
def test_another_teams_object_is_404_on_every_action_endpoint(path, body, team, make_client, world):
    client, _token = make_client(team)
    ids = {key: obj.pk for key, obj in world["b"].items() if hasattr(obj, "pk")}
    response = client.post("/api/v1/" + path.format(**ids), body, format="json")
    assert response.status_code == 404
    assert world["b"]["action"].stage == Action.objects.get(pk=world["b"]["action"].pk).stage
    assert TimelineEvent.objects.filter(incident=world["b"]["incident"], text="x").count() == 0


CREATES = {
    "services": (Service, {"name": "Intruder"}),
    "incidents": (Incident, {"title": "Intruder", "started_at": "2026-01-01T10:00:00Z"}),
    "problems": (Problem, {"title": "Intruder"}),
    "changes": (Change, {"title": "Intruder"}),
    "actions": (Action, {"title": "Intruder"}),
    "rituals": (Ritual, {"name": "Intruder", "weekday": 1, "time_of_day": "10:00"}),
}


@pytest.mark.parametrize("resource", CREATES)
def test_a_token_cannot_create_in_another_team(resource, team, other_team, make_client, world):
    client, _token = make_client(team)
    model, body = CREATES[resource]
    field = "name" if model in (Service, Ritual) else "title"
    response = client.post(f"/api/v1/{resource}/", {**body, "team": other_team.slug}, format="json")
    assert response.status_code == 400
    assert "team" in response.json()["errors"]
    assert not model.objects.filter(**{field: "Intruder"}).exists()


@pytest.mark.parametrize("resource", ["incidents", "changes", "actions"])
def test_a_token_cannot_upsert_by_ref_into_another_team(resource, team, other_team, make_client):
    client, _token = make_client(team)
    body = {"team": other_team.slug, "title": "Intruder", "started_at": "2026-01-01T10:00:00Z"}
    if resource != "incidents":
        body.pop("started_at")
    response = client.put(f"/api/v1/{resource}/by-ref/jira/OPS-1/", body, format="json")
    assert response.status_code == 400
    assert not Incident.objects.filter(title="Intruder").exists()
    assert not Action.objects.filter(title="Intruder").exists()


def test_a_token_cannot_link_another_teams_rows(team, make_client, world):
    client, _token = make_client(team)
    response = client.post(
        "/api/v1/incidents/",
        {"title": "Linked", "started_at": "2026-01-01T10:00:00Z", "service": world["b"]["service"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert "service" in response.json()["errors"]
    response = client.post(
        "/api/v1/actions/", {"title": "Linked", "incidents": [world["b"]["incident"].pk]}, format="json"
    )
    assert response.status_code == 400
    assert "incidents" in response.json()["errors"]
    assert not Incident.objects.filter(title="Linked").exists()
    assert not Action.objects.filter(title="Linked").exists()


def test_teams_endpoint_shows_only_the_tokens_team(team, other_team, make_client):
    client, _token = make_client(team, scope="read")
    slugs = [row["slug"] for row in client.get("/api/v1/teams/").json()["results"]]
    assert slugs == [team.slug]
    assert client.get(f"/api/v1/teams/{other_team.slug}/").status_code == 404


def test_a_session_user_sees_their_teams_and_a_viewer_cannot_write(team, viewer, world):
    client = client_for()
    client.force_login(viewer)
    ids = {row["id"] for row in client.get("/api/v1/incidents/").json()["results"]}
    assert ids == {world["a"]["incident"].pk}
    response = client.post("/api/v1/problems/", {"title": "Viewer's"}, format="json")
    assert response.status_code == 403
    assert not Problem.objects.filter(title="Viewer's").exists()


def test_rituals_need_a_lead_behind_a_write_token(team, make_client):
    member = factories.MembershipFactory(team=team, role="member").user
    client, _token = make_client(team, by=member)
    body = {"name": "Weekly board", "weekday": 0, "time_of_day": "10:00"}
    assert client.post("/api/v1/rituals/", body, format="json").status_code == 403
    lead_client, _token = make_client(team)
    response = lead_client.post("/api/v1/rituals/", body, format="json")
    assert response.status_code == 201, response.json()
    assert Ritual.objects.get(pk=response.json()["id"]).team == team


def test_revoking_takes_effect_on_the_next_request(team, make_client):
    client, token = make_client(team)
    assert client.get("/api/v1/actions/").status_code == 200
    token.revoked_at = timezone.now()
    token.save()
    assert client.get("/api/v1/actions/").status_code == 401


def test_a_token_cannot_delete_another_teams_ritual(team, make_client, world):
    client, _token = make_client(team)
    ritual = world["b"]["ritual"]
    assert client.delete(f"/api/v1/rituals/{ritual.pk}/").status_code == 404
    assert Ritual.objects.filter(pk=ritual.pk).exists()


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_session_user_gets_404_on_a_team_they_do_not_belong_to(resource, team, member, world):
    client = client_for()
    client.force_login(member)
    assert client.get(f"/api/v1/{resource}/{world['b'][RESOURCES[resource]].pk}/").status_code == 404
    assert client.get(f"/api/v1/{resource}/{world['a'][RESOURCES[resource]].pk}/").status_code == 200


def test_a_read_write_token_of_a_member_writes_but_cannot_manage_rituals(team, make_client, world):
    member = factories.MembershipFactory(team=team, role="member").user
    client, _token = make_client(team, by=member)
    ritual = world["a"]["ritual"]
    assert client.patch(f"/api/v1/rituals/{ritual.pk}/", {"name": "Renamed"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/rituals/{ritual.pk}/").status_code == 403
    response = client.patch(f"/api/v1/problems/{world['a']['problem'].pk}/", {"status": "known_error"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "known_error"
    assert client.post("/api/v1/problems/", {"title": "Member's"}, format="json").status_code == 201


def test_memberships_are_managed_by_leads_and_the_last_lead_stays(team, lead, make_client):
    from teams.models import Membership

    newcomer = factories.UserFactory(username="newcomer")
    member_client, _token = make_client(team, by=factories.MembershipFactory(team=team, role="member").user)
    assert member_client.post("/api/v1/memberships/", {"user": "newcomer"}, format="json").status_code == 403
    client, _token = make_client(team, by=lead)
    response = client.post("/api/v1/memberships/", {"user": "newcomer", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.json()
    assert Membership.objects.get(team=team, user=newcomer).role == "viewer"
    leads = Membership.objects.filter(team=team, role="lead")
    for membership in leads[1:]:
        membership.delete()
    last = leads.first()
    response = client.patch(f"/api/v1/memberships/{last.pk}/", {"role": "member"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]
    assert client.delete(f"/api/v1/memberships/{last.pk}/").status_code == 400
    assert Membership.objects.get(pk=last.pk).role == "lead"


def test_a_lead_token_cannot_add_members_to_another_team(team, other_team, make_client):
    from teams.models import Membership

    factories.UserFactory(username="outsider")
    client, _token = make_client(team)
    response = client.post("/api/v1/memberships/", {"user": "outsider", "team": other_team.slug}, format="json")
    assert response.status_code == 400
    assert not Membership.objects.filter(team=other_team, user__username="outsider").exists()
