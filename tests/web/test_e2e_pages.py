"""Browser journeys through the daily-work pages: problems, services, changes, the archive, my work."""

import datetime as dt

import pytest
from django.utils import timezone

from incidents.models import Problem
from tests.factories import IncidentFactory, MembershipFactory, ServiceFactory, TeamFactory
from tests.web.test_e2e_journeys import log_in, page, shot  # noqa: F401 - `page` is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_groups_incidents_into_a_problem_from_the_incident_list(page):  # noqa: F811
    team = TeamFactory(name="Platform SRE", slug="platform-sre")
    gateway = ServiceFactory(team=team, name="API gateway", slug="api-gateway")
    MembershipFactory(team=team, role="lead", user__username="alice")
    now = timezone.now()
    for n, title in enumerate(("Pool exhausted at 09:00", "Pool exhausted again", "Unrelated DNS blip")):
        IncidentFactory(team=team, service=gateway, title=title, started_at=now - dt.timedelta(days=10 - n))

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
    assert page.refused == []
