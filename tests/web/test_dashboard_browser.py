"""A lead reads the seeded demo's dashboard in Chromium, reads a chart by keyboard and follows a drill-down."""

import os
import re

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.refused = []
    page.on("console", lambda m: m.type == "error" and "Refused" in m.text and page.refused.append(m.text))
    page.base = live_server.url
    yield page
    context.close()


def test_a_lead_reads_the_demo_dashboard_and_its_rows_add_up(page):
    # Seeded up to today, so that the default period (the last 26 complete weeks) holds the demo's history.
    call_command("seed_demo", "--weeks=12", stdout=open(os.devnull, "w"))  # noqa: SIM115
    page.goto(page.base + "/accounts/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "kaizen-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(page.base + "/t/platform-sre/dashboard/")

    assert "Default period: the last 26 complete weeks" in page.locator("#period").inner_text()
    # The three poles side by side: their headings on one line.
    tops = [page.locator(f"#pole-{pole}").bounding_box()["y"] for pole in ("reliability", "speed", "flexibility")]
    assert max(tops) - min(tops) < 5
    # A chart read by keyboard: each week is a focusable point that names its week and value.
    point = page.locator("#chart-speed-reliability-deployments circle.pt").last
    point.focus()
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert re.fullmatch(r"Week of \d{4}-\d\d-\d\d: \d+", label)
    page.get_by_text("Data table").first.click()
    assert page.locator("#tension-speed-reliability-section table.chart-data tbody tr").count() == 26

    card = page.locator("#figure-change_failure_rate")
    counted, of = map(int, re.search(r"(\d+) of (\d+)", card.inner_text()).groups())
    assert of > 0
    card.get_by_role("link", name="Change failure rate").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Change failure rate")
    assert page.locator("tr.figure-row").count() == of
    assert page.locator("tr.figure-row.counted").count() == counted
    assert f"{counted} of {of} rows counted" in page.locator("#rows-total").inner_text()
    assert page.refused == []
