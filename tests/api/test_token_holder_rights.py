"""A token acts with at most its holder's current rights: no key outlives the person who holds it."""

import pytest
from auditlog.models import LogEntry

from incidents.models import Incident
from teams.models import ApiToken, Membership
from teams.services import change_member_role, remove_member
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

INCIDENT = {"title": "Disk full on db-1", "severity": "SEV3", "started_at": "2026-01-05T10:00:00Z"}


@pytest.fixture
def lead_token(team, lead, make_client):
    factories.MembershipFactory(team=team, role="lead")  # the team keeps a lead when this one leaves
    return make_client(team, scope="read_write", by=lead)


def test_a_removed_leads_token_can_neither_read_nor_write(team, lead, lead_token):
    client, _token = lead_token
    assert client.get("/api/v1/incidents/").status_code == 200
    remove_member(membership=Membership.objects.get(team=team, user=lead))
    listed = client.get("/api/v1/incidents/")
    created = client.post("/api/v1/incidents/", INCIDENT, format="json")
    assert listed.status_code == 401
    assert listed.json()["code"] == "token_revoked"  # removing them revoked it
    assert set(listed.json()) == {"code", "message", "errors"}
    assert created.status_code == 401
    assert not Incident.objects.filter(title=INCIDENT["title"]).exists()


def test_removing_a_member_revokes_their_personal_tokens_in_the_audit_log(team, lead, lead_token):
    _client, token = lead_token
    remover = Membership.objects.filter(team=team, role="lead").exclude(user=lead).get().user
    remove_member(membership=Membership.objects.get(team=team, user=lead), by=remover)
    token.refresh_from_db()
    assert token.revoked_at is not None
    entry = LogEntry.objects.get(action=LogEntry.Action.UPDATE, object_pk=str(token.pk), content_type__model="apitoken")
    assert entry.additional_data["team_id"] == team.pk
    assert entry.actor == remover
    assert "revoked_at" in entry.changes_dict


def test_a_token_stays_refused_when_its_holder_rejoins(team, lead, lead_token):
    client, _token = lead_token
    remove_member(membership=Membership.objects.get(team=team, user=lead))
    factories.MembershipFactory(team=team, user=lead, role="lead")
    assert client.get("/api/v1/incidents/").status_code == 401


def test_a_token_is_refused_when_its_holder_left_without_the_service(team, lead, lead_token):
    # A membership deleted behind the service's back (admin, shell) still refuses the token.
    client, _token = lead_token
    Membership.objects.filter(team=team, user=lead).delete()
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_holder_not_member"


def test_a_token_whose_holder_was_deleted_is_refused(team, lead, lead_token):
    client, _token = lead_token
    lead.delete()
    assert client.get("/api/v1/incidents/").status_code == 401


def test_a_demoted_holders_read_write_token_is_capped_to_read(team, lead, lead_token):
    client, _token = lead_token
    change_member_role(membership=Membership.objects.get(team=team, user=lead), role="viewer")
    assert client.get("/api/v1/incidents/").status_code == 200
    response = client.post("/api/v1/incidents/", INCIDENT, format="json")
    assert response.status_code == 403
    assert "viewer" in response.json()["message"]
    assert not Incident.objects.filter(title=INCIDENT["title"]).exists()


def test_a_lead_demoted_to_member_keeps_writing_but_loses_lead_actions(team, lead, lead_token):
    client, _token = lead_token
    change_member_role(membership=Membership.objects.get(team=team, user=lead), role="member")
    assert client.post("/api/v1/incidents/", INCIDENT, format="json").status_code == 201
    factories.UserFactory(username="newcomer")
    assert client.post("/api/v1/memberships/", {"user": "newcomer"}, format="json").status_code == 403


def test_removing_someone_leaves_the_other_members_tokens_alone(team, lead, member, make_client):
    factories.MembershipFactory(team=team, role="lead")
    member_client, member_token = make_client(team, by=member)
    remove_member(membership=Membership.objects.get(team=team, user=lead))
    member_token.refresh_from_db()
    assert member_token.revoked_at is None
    assert member_client.get("/api/v1/incidents/").status_code == 200


def test_removing_someone_from_one_team_leaves_their_tokens_of_another_team(team, other_team, lead, make_client):
    factories.MembershipFactory(team=team, role="lead")
    factories.MembershipFactory(team=other_team, user=lead, role="lead")
    other_client, other_token = make_client(other_team, by=lead)
    remove_member(membership=Membership.objects.get(team=team, user=lead))
    other_token.refresh_from_db()
    assert other_token.revoked_at is None
    assert other_client.get("/api/v1/incidents/").status_code == 200


def test_a_superusers_token_keeps_working_without_a_membership(team, make_client):
    admin = factories.UserFactory(is_superuser=True, is_staff=True)
    client, _token = make_client(team, by=admin)
    assert client.get("/api/v1/incidents/").status_code == 200
    assert client.post("/api/v1/incidents/", INCIDENT, format="json").status_code == 201


def test_removing_a_member_through_the_api_revokes_their_tokens(team, lead, member, make_client):
    member_client, member_token = make_client(team, by=member)
    lead_client, _token = make_client(team, by=lead)
    membership = Membership.objects.get(team=team, user=member)
    assert lead_client.delete(f"/api/v1/memberships/{membership.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=member_token.pk).revoked_at is not None
    assert member_client.get("/api/v1/incidents/").status_code == 401


def test_a_key_never_seen_is_still_plain_invalid(db):
    response = client_for("okz_deadbeef_nope").get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
