"""Browser journeys through the daily-work pages: problems, services, changes, the archive, my work."""

import datetime as dt

import pytest
from django.utils import timezone

from improvement.models import Check
from incidents.models import Problem
from tests.factories import (
    ActionFactory,
    ChangeFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    RitualFactory,
    ServiceFactory,
    TeamFactory,
)
from tests.web.test_e2e_journeys import log_in, page, shot  # noqa: F401 - `page` is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_groups_incidents_reads_problem_and_service_finds_the_archive_and_a_member_their_work(page):  # noqa: F811
    team = TeamFactory(name="Platform SRE", slug="platform-sre")
    gateway = ServiceFactory(team=team, name="API gateway", slug="api-gateway", tier=1)
    MembershipFactory(team=team, role="lead", user__username="alice")
    bob = MembershipFactory(team=team, role="member", user__username="bob").user
    now = timezone.now()
    deploy = ChangeFactory(team=team, service=gateway, title="Deploy pool settings", deployed_at=now - dt.timedelta(11))
    for n, title in enumerate(("Pool exhausted at 09:00", "Pool exhausted again", "Unrelated DNS blip")):
        IncidentFactory(
            team=team,
            service=gateway,
            title=title,
            started_at=now - dt.timedelta(days=10 - n),
            caused_by_change=deploy if n == 0 else None,
        )
    done = ActionFactory(team=team, title="Canary stage for the gateway", stage="done", target_service=gateway)
    Check.objects.create(team=team, action=done, verdict="effective", evidence=Check.Evidence.COMPUTED)
    ActionFactory(team=team, owner=bob, title="Alert on pool usage", due_date=now.date() - dt.timedelta(days=2))
    PostmortemFactory(team=team, incident=IncidentFactory(team=team, title="Cache stampede"), author=bob)
    ritual = RitualFactory(team=team, name="Weekly review board")
    ritual.attendees.add(bob)

    log_in(page, "alice")
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Incidents").click()
    page.get_by_role("checkbox", name="Select Pool exhausted at 09:00").check()
    page.get_by_role("checkbox", name="Select Pool exhausted again").check()
    page.fill("#bulk-new-title", "Connection pool too small")
    page.get_by_role("button", name="Attach to the problem").click()
    page.get_by_role("heading", name="Connection pool too small").wait_for()
    assert "2 incidents attached" in page.inner_text(".messages")
    timeline = page.locator("#incidents-title + form .timeline").inner_text()
    assert timeline.index("Pool exhausted at 09:00") < timeline.index("Pool exhausted again")
    assert "Unrelated DNS blip" not in timeline
    assert Problem.objects.get(title="Connection pool too small").incidents.count() == 2
    shot(page, "problem-detail")

    page.get_by_role("link", name="Edit the problem").click()
    page.fill("#id_workaround", "Restart the pool manager.")
    page.get_by_role("button", name="Save the problem").click()
    page.get_by_text("Restart the pool manager.").wait_for()

    page.get_by_role("navigation", name="Team").get_by_role("link", name="Problems").click()
    row = page.locator("tr", has=page.get_by_role("link", name="Connection pool too small"))
    assert "2" in row.inner_text()

    # The service page: its figures, its problem, its change.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Services").click()
    page.get_by_role("link", name="API gateway").click()
    page.get_by_role("heading", name="API gateway").wait_for()
    figures = page.locator("#figures-title + .stats").inner_text()
    assert "Change failure rate" in figures and "100" in figures  # its one deployment caused an incident
    assert "Connection pool too small" in page.inner_text("#problems-title + ul")
    page.get_by_role("link", name="Deploy pool settings").click()
    assert "Pool exhausted at 09:00" in page.inner_text("#caused-title + ol")
    shot(page, "service-change")

    # The archive: a finished action, with its verdict.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="PDCA board").click()
    page.get_by_role("link", name="Action archive").click()
    page.fill("#id_q", "canary")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("tr", has=page.get_by_role("link", name="Canary stage for the gateway"))
    assert "effective" in row.inner_text()
    assert page.refused == []

    # A member finds their work from the user menu.
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    log_in(page, "bob")
    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="My work").click()
    page.get_by_role("heading", name="My work").wait_for()
    assert "Alert on pool usage" in page.inner_text("#my-actions + *, section[aria-labelledby=my-actions]")
    assert "1 overdue" in page.content()
    assert "Cache stampede" in page.inner_text("section[aria-labelledby=my-postmortems]")
    assert "Weekly review board" in page.inner_text("section[aria-labelledby=my-review]")
    shot(page, "my-work")
    assert page.refused == []
