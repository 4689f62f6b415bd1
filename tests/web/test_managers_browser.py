"""A manager and an observer read the view across teams, and its monthly report, in Chromium."""

import pytest

from teams.services import grant_observer
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.reporting.test_managers_view import team_with_history
from tests.web import test_dashboard_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
page = test_dashboard_browser.page  # the same Chromium page fixture


def sign_in(page, username: str):
    page.goto(page.base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def rows(page, pole: str) -> list[str]:
    return page.locator(f"#across-{pole}-section tbody th[scope=row]").all_inner_texts()


def test_a_manager_reads_their_teams_and_an_observer_every_team(page):
    ops, web, finance = team_with_history("Ops"), team_with_history("Web", incidents=5), team_with_history("Finance")
    manager = MembershipFactory(team=ops, role="lead", user=UserFactory(username="manager")).user
    MembershipFactory(team=web, role="viewer", user=manager)
    observer = UserFactory(username="observer")
    grant_observer(user=observer, by=UserFactory(username="root", is_superuser=True, is_staff=True))

    sign_in(page, "manager")
    page.goto(page.base + f"/t/{ops.slug}/dashboard/")
    page.get_by_role("link", name="Across teams").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Across teams"
    assert rows(page, "reliability") == ["Ops", "Web"]  # never Finance
    # The poles' tables, one row per team, each with its figures and its weekly line.
    assert page.locator("#across-reliability-section svg.sparkline").count() >= 2
    assert "Web disk fills up" in page.locator("#across-problems").locator("..").inner_text()
    assert "Finance" not in page.content() and f"/t/{finance.slug}/" not in page.content()

    page.get_by_role("link", name="Monthly operations report").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Monthly operations report")
    assert "2 teams" in page.locator("#report-scope").inner_text()
    page.get_by_role("link", name="Français").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Rapport mensuel des opérations")
    assert page.refused == []

    page.context.clear_cookies()
    sign_in(page, "observer")
    page.goto(page.base + "/reports/teams/")
    assert rows(page, "speed") == ["Finance", "Ops", "Web"]
    assert "you read them as an observer" in page.locator("#managers-scope").inner_text()
    assert page.refused == []
