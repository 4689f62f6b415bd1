"""Single sign-on through a real OpenID provider (oidc-provider on Node, on loopback), in Chromium.

No mock of the provider: the browser signs in on the provider's own page, the provider's ID token
and userinfo carry the groups, and a change of groups at the provider reaches OpsKaizen at the
next silent session refresh, without signing in again.
"""

import time

import pytest
from auditlog.models import LogEntry

from teams.models import ApiToken, Membership
from teams.services import authenticate_api_key, create_api_token
from tests.factories import TeamFactory
from tests.oidc.provider import start_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(tmp_path, live_server, settings):
    running = start_provider(tmp_path, redirect_uri=f"{live_server.url}/oidc/callback/")
    running.settings(settings)
    yield running
    running.process.kill()
    running.process.wait(timeout=10)


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Only loopback: the provider's development pages name a web font elsewhere.
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if "//127.0.0.1" in route.request.url or "//localhost" in route.request.url
            else route.abort()
        ),
    )
    page.base = live_server.url
    yield page
    context.close()


def sign_in_at_the_provider(page, login):
    page.goto(page.base + "/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "whatever-the-provider-accepts")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_url(f"{page.base}/t/**")


def test_it_signs_in_through_the_provider_lands_in_the_mapped_team_and_loses_it_when_the_claim_changes(
    page, provider, settings
):
    team = TeamFactory(name="Platform SRE", slug="platform-sre")
    TeamFactory(name="Payments", slug="payments")
    provider.set_accounts(
        {
            "alice": {
                "email": "alice@example.test",
                "preferred_username": "alice",
                "groups": ["opskaizen:platform-sre:lead"],
            }
        }
    )
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 2

    sign_in_at_the_provider(page, "alice")
    assert page.url.startswith(f"{page.base}/t/platform-sre/")
    membership = Membership.objects.get(team=team, user__username="alice")
    assert (membership.role, membership.source) == ("lead", "provider")
    assert not Membership.objects.filter(team__slug="payments", user=membership.user).exists()
    page.goto(f"{page.base}/t/platform-sre/settings/members/")
    assert "alice" in page.locator("main").inner_text()
    _token, key = create_api_token(team=team, name="alice's script", scope="read_write", by=membership.user)

    # Demoted at the provider: the next silent refresh caps her to a viewer.
    provider.set_accounts({"alice": {"email": "alice@example.test", "groups": ["opskaizen:platform-sre:viewer"]}})
    time.sleep(2.5)
    response = page.goto(f"{page.base}/t/platform-sre/settings/members/")
    assert response.status == 403  # the members page is for leads
    assert Membership.objects.get(team=team, user__username="alice").role == "viewer"
    assert authenticate_api_key(key).acting_role == "viewer"

    # Taken out of the group: she loses the team and her personal token stops with her.
    provider.set_accounts({"alice": {"email": "alice@example.test", "groups": []}})
    time.sleep(2.5)
    response = page.goto(f"{page.base}/t/platform-sre/")
    assert response.status == 404
    assert not Membership.objects.filter(team=team, user__username="alice").exists()
    assert ApiToken.objects.get(name="alice's script").revoked_at is not None
    reasons = list(
        LogEntry.objects.filter(additional_data__team_id=team.pk).values_list("additional_data__reason", flat=True)
    )
    assert any(r.startswith("signed in via single sign-on") for r in reasons)
    assert "role of alice set by the provider" in reasons
    assert "alice no longer in the provider's group for this team" in reasons
    assert "holder removed from the team" in reasons
