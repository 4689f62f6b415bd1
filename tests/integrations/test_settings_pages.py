"""Leads manage tokens and integrations in settings pages; the key is shown once; members 403, strangers 404."""

import re

import pytest
from django.test import Client

from integrations.models import Integration, OutgoingWebhook
from integrations.services import create_integration
from teams.models import ApiToken
from teams.services import create_api_token
from tests import factories

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_a_lead_creates_a_token_and_sees_the_key_once(team, lead):
    client = logged_in(lead)
    response = client.post(f"/t/{team.slug}/settings/tokens/", {"name": "Jira", "scope": "read_write"})
    assert response.status_code == 200
    key = re.search(r"okz_[0-9a-f]{8}_[\w-]+", response.content.decode()).group(0)
    token = ApiToken.objects.get(team=team, name="Jira")
    assert token.key_hash == ApiToken.hash_key(key) and token.created_by == lead
    again = client.get(f"/t/{team.slug}/settings/tokens/").content.decode()
    assert key not in again
    assert "Jira" in again


def test_the_new_key_works_against_the_api(team, lead):
    client = logged_in(lead)
    page = client.post(f"/t/{team.slug}/settings/tokens/", {"name": "CI", "scope": "read"}).content.decode()
    key = re.search(r"okz_[0-9a-f]{8}_[\w-]+", page).group(0)
    assert Client().get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_a_lead_revokes_a_token(team, lead):
    token, _key = create_api_token(team=team, name="Old", by=lead)
    response = logged_in(lead).post(f"/t/{team.slug}/settings/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403_on_settings_like_on_every_page_above_their_role(team, role):
    user = factories.MembershipFactory(team=team, role=role).user
    client = logged_in(user)
    for url in (f"/t/{team.slug}/settings/tokens/", f"/t/{team.slug}/settings/integrations/"):
        assert client.get(url).status_code == 403, url
    assert client.get(f"/t/{team.slug}/rituals/new/").status_code == 403  # a lead page outside settings
    assert client.post(f"/t/{team.slug}/settings/outgoing/", {"url": "https://example.com/x"}).status_code == 403
    assert not OutgoingWebhook.objects.exists()


def test_a_lead_of_another_team_cannot_touch_this_teams_tokens(team, other_team, lead):
    other_lead = factories.MembershipFactory(team=other_team, role="lead").user
    token, _key = create_api_token(team=team, name="Ours", by=lead)
    client = logged_in(other_lead)
    assert client.get(f"/t/{team.slug}/settings/tokens/").status_code == 404
    assert client.post(f"/t/{team.slug}/settings/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/t/{other_team.slug}/settings/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_integrations_page_connects_a_source_shows_its_hook_url_and_rotates(team, lead):
    client = logged_in(lead)
    response = client.post(f"/t/{team.slug}/settings/integrations/", {"source": "github"})
    assert response.status_code == 302
    integration = Integration.objects.get(team=team, source="github")
    page = client.get(f"/t/{team.slug}/settings/integrations/").content.decode()
    assert f"/hooks/{integration.public_id}/" in page
    old = integration.secret
    client.post(f"/t/{team.slug}/settings/integrations/{integration.pk}/rotate/")
    integration.refresh_from_db()
    assert integration.secret != old


def test_a_second_integration_of_the_same_source_is_refused(team, lead):
    create_integration(team=team, source="jira")
    response = logged_in(lead).post(f"/t/{team.slug}/settings/integrations/", {"source": "jira"})
    assert response.status_code == 200  # the form again, with the error
    assert Integration.objects.filter(team=team, source="jira").count() == 1


def test_admin_add_token_shows_the_key_once_in_a_message(team):
    admin_user = factories.UserFactory(is_staff=True, is_superuser=True)
    client = logged_in(admin_user)
    response = client.post(
        "/admin/teams/apitoken/add/", {"team": team.pk, "name": "From admin", "scope": "read"}, follow=True
    )
    assert response.status_code == 200
    key = re.search(r"okz_[0-9a-f]{8}_[\w-]+", response.content.decode()).group(0)
    token = ApiToken.objects.get(name="From admin")
    assert token.key_hash == ApiToken.hash_key(key)
    assert token.created_by == admin_user


def test_a_lead_adds_and_removes_an_outgoing_webhook(team, lead):
    from integrations.models import OutgoingWebhook

    client = logged_in(lead)
    response = client.post(
        f"/t/{team.slug}/settings/outgoing/", {"url": "https://hooks.example.com/okz", "events": ["action.moved"]}
    )
    assert response.status_code == 302
    endpoint = OutgoingWebhook.objects.get(team=team)
    assert endpoint.events == ["action.moved"]
    assert "https://hooks.example.com/okz" in client.get(f"/t/{team.slug}/settings/integrations/").content.decode()
    client.post(f"/t/{team.slug}/settings/outgoing/{endpoint.pk}/delete/")
    assert not OutgoingWebhook.objects.exists()


def test_another_teams_lead_cannot_remove_our_outgoing_webhook(team, other_team):
    from integrations.services import create_outgoing_webhook

    endpoint = create_outgoing_webhook(team=team, url="https://hooks.example.com/okz")
    other_lead = factories.MembershipFactory(team=other_team, role="lead").user
    response = logged_in(other_lead).post(f"/t/{other_team.slug}/settings/outgoing/{endpoint.pk}/delete/")
    assert response.status_code == 404
    endpoint.refresh_from_db()
