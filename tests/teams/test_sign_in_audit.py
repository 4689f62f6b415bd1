"""Sign-ins, failed sign-ins and uses of a revoked token show in the audit log of the teams concerned."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from teams.services import create_api_token, revoke_api_token
from tests.conftest import client_for
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="203.0.113.7")


def access_entries(team):
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__team_id=team.pk)


def test_a_sign_in_is_in_the_audit_log_of_each_team_of_the_person(client, team, other_team, member):
    MembershipFactory(team=other_team, user=member)
    assert login(client, member.username, PASSWORD).status_code == 302
    for each in (team, other_team):
        entry = access_entries(each).get()
        assert entry.actor == member
        assert entry.additional_data["reason"] == "signed in via password from 203.0.113.7"


def test_a_failed_sign_in_is_in_the_audit_log_and_on_the_leads_page(client, team, lead, member):
    assert login(client, member.username, "wrong").status_code == 200
    entry = access_entries(team).get()
    assert entry.object_pk == str(member.pk)
    assert entry.actor is None
    client.force_login(lead)
    page = client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()
    assert "failed sign-in via password from 203.0.113.7" in page


def test_a_failed_sign_in_under_an_unknown_name_belongs_to_no_team(client, team):
    login(client, "nobody-here", "wrong")
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_a_sign_in_does_not_show_in_another_teams_log(client, team, other_team, member):
    login(client, member.username, PASSWORD)
    assert not access_entries(other_team).exists()


def test_using_a_revoked_token_is_audited_once_a_minute(team, lead):
    token, key = create_api_token(team=team, name="old cron", scope="read", by=lead)
    revoke_api_token(token=token, by=lead)
    client = client_for(key)
    for _ in range(3):
        assert client.get("/api/v1/incidents/").status_code == 401
    entry = access_entries(team).get(object_pk=str(token.pk), content_type__model="apitoken")
    assert entry.additional_data["reason"].startswith("used after revocation")


def test_revoking_on_the_tokens_page_is_audited_with_who_did_it(client, team, lead):
    token, _key = create_api_token(team=team, name="jira", by=lead)
    client.force_login(lead)
    client.post(reverse("teams:revoke_token", args=[team.slug, token.pk]))
    entry = LogEntry.objects.get(action=LogEntry.Action.UPDATE, object_pk=str(token.pk), content_type__model="apitoken")
    assert entry.actor == lead
    assert entry.additional_data == {"team_id": team.pk, "reason": "revoked by a lead"}
