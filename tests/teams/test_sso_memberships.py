"""Who owns a membership: the provider's follow its claim; a lead's edits do not fight it.

And local sign-in turned off: only the break-glass administrator signs in with a password,
each time in every team's audit log.
"""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from teams.models import ApiToken, Membership
from teams.services import change_member_role, create_api_token, sync_provider_memberships
from tests.conftest import client_for
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.web import once

pytestmark = pytest.mark.django_db


def test_a_membership_added_by_hand_in_a_team_the_claim_does_not_name_stays(team, other_team):
    manual = MembershipFactory(team=other_team, role="member")
    sync_provider_memberships(user=manual.user, wanted={team.slug: "viewer"})
    assert Membership.objects.get(pk=manual.pk).source == "manual"
    assert Membership.objects.get(team=team, user=manual.user).source == "provider"
    sync_provider_memberships(user=manual.user, wanted={})
    assert Membership.objects.filter(pk=manual.pk).exists()
    assert not Membership.objects.filter(team=team, user=manual.user).exists()


def test_a_team_the_provider_names_but_that_does_not_exist_is_not_created(team):
    user = UserFactory()
    sync_provider_memberships(user=user, wanted={"no-such-team": "lead"})
    assert not Membership.objects.filter(user=user).exists()


def test_leaving_the_group_revokes_the_personal_tokens_of_that_team_only(team, other_team, lead):
    user = UserFactory()
    sync_provider_memberships(user=user, wanted={team.slug: "member", other_team.slug: "member"})
    token, _key = create_api_token(team=team, name="mine", scope="read_write", by=user)
    kept, _key = create_api_token(team=other_team, name="other", scope="read_write", by=user)
    sync_provider_memberships(user=user, wanted={other_team.slug: "member"})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=kept.pk).revoked_at is None


def test_a_lead_cannot_change_the_role_of_a_provider_owned_membership(client, team, lead):
    user = UserFactory(username="zoe")
    sync_provider_memberships(user=user, wanted={team.slug: "viewer"})
    client.force_login(lead)
    response = client.post(reverse("teams:members", args=[team.slug]), once({"username": "zoe", "role": "lead"}))
    assert response.status_code == 400
    assert "comes from the identity provider" in response.content.decode()
    assert Membership.objects.get(team=team, user=user).role == "viewer"


def test_the_api_refuses_it_too_with_the_field_at_fault(team, lead):
    user = UserFactory(username="zoe")
    sync_provider_memberships(user=user, wanted={team.slug: "viewer"})
    _token, key = create_api_token(team=team, name="t", scope="read_write", by=lead)
    membership = Membership.objects.get(team=team, user=user)
    response = client_for(key).patch(f"/api/v1/memberships/{membership.pk}/", {"role": "member"}, format="json")
    assert response.status_code == 400
    assert "comes from the identity provider" in str(response.json()["errors"]["role"])
    assert Membership.objects.get(pk=membership.pk).role == "viewer"


def test_role_changes_are_in_the_leads_audit_log(client, team, lead, member):
    change_member_role(membership=Membership.objects.get(team=team, user=member), role="viewer", by=lead)
    client.force_login(lead)
    page = client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()
    assert f"role of {member} changed" in page
    entry = LogEntry.objects.get(content_type__model="membership", action=LogEntry.Action.UPDATE)
    assert (entry.actor, entry.changes_dict["role"]) == (lead, ["member", "viewer"])


def test_with_local_sign_in_off_a_password_is_refused_with_a_clear_message(client, settings, member):
    settings.LOCAL_LOGIN_ENABLED = False
    response = client.post(reverse("login"), {"username": member.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "Password sign-in is turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_break_glass_administrator_signs_in_and_every_team_sees_it(client, settings, team):
    second = TeamFactory()
    admin = UserFactory(username="break-glass", is_superuser=True, is_staff=True)
    settings.LOCAL_LOGIN_ENABLED, settings.BREAK_GLASS_USERNAME = False, "break-glass"
    response = client.post(reverse("login"), {"username": "break-glass", "password": PASSWORD})
    assert response.status_code == 302
    for each in (team, second):
        entry = LogEntry.objects.get(additional_data__team_id=each.pk, action=LogEntry.Action.ACCESS)
        assert entry.additional_data["reason"].startswith("signed in via the break-glass account")
        assert entry.actor == admin


def test_the_sign_in_page_offers_single_sign_on_when_configured(client, settings):
    settings.SSO_ENABLED = True
    page = client.get(reverse("login")).content.decode()
    assert reverse("oidc_authentication_init") in page
    settings.SSO_ENABLED = False
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
