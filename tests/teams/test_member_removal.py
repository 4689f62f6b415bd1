"""Removing someone from a team on the members page: leads only, their personal tokens go with them."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from teams.models import ApiToken, Membership
from teams.services import create_api_token
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_lead_removes_a_member_and_their_tokens_are_revoked_on_the_audit_page(client, team, lead, member):
    token, _key = create_api_token(team=team, name="member's script", scope="read_write", by=member)
    client.force_login(lead)
    membership = Membership.objects.get(team=team, user=member)
    response = client.post(reverse("teams:remove_member", args=[team.slug, membership.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    audit = client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()
    assert "member&#x27;s script" in audit or "member's script" in audit
    assert "holder removed from the team" in audit
    assert (
        LogEntry.objects.get(
            action=LogEntry.Action.UPDATE, object_pk=str(token.pk), content_type__model="apitoken"
        ).actor
        == lead
    )


def test_a_member_cannot_remove_anyone(client, team, lead, member):
    client.force_login(member)
    membership = Membership.objects.get(team=team, user=lead)
    assert client.post(reverse("teams:remove_member", args=[team.slug, membership.pk])).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_a_lead_cannot_remove_someone_of_another_team(client, team, lead, other_team):
    stranger = factories.MembershipFactory(team=other_team, role="member")
    client.force_login(lead)
    assert client.post(reverse("teams:remove_member", args=[team.slug, stranger.pk])).status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_the_last_lead_cannot_be_removed_and_is_told_why(client, team, lead):
    client.force_login(lead)
    membership = Membership.objects.get(team=team, user=lead)
    response = client.post(reverse("teams:remove_member", args=[team.slug, membership.pk]), follow=True)
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert "A team keeps at least one lead." in response.content.decode()
