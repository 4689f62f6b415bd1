"""The tension charts: axes, labelled limits, focusable points, a data table, and a reading only of real signals."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from tests.factories import ChangeFactory, ServiceFactory
from tests.reporting.test_dashboard_page import last_complete_monday

pytestmark = pytest.mark.django_db


def deployments(team, per_week: dict[int, int]):
    """per_week: weeks before the last complete one → deployments that week."""
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for weeks_back, count in per_week.items():
        for i in range(count):
            at = dt.datetime.combine(monday - dt.timedelta(weeks=weeks_back), dt.time(9), tzinfo=dt.UTC)
            ChangeFactory(team=team, service=service, deployed_at=at + dt.timedelta(hours=i))


def speed_reliability(html: str) -> str:
    start = html.index('id="tension-speed-reliability-section"')
    return html[start : html.index("</section>", start)]


def test_the_charts_have_axes_labelled_limits_and_focusable_points(client, member, team):
    deployments(team, {week: 3 + week % 2 for week in range(0, 12)})
    client.force_login(member)
    panel = speed_reliability(client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode())
    chart = panel[panel.index('id="chart-speed-reliability-deployments"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'class="tick"' in chart and re.search(r">\d{4}-\d\d-\d\d</text>", chart)  # week axis
    assert ">UCL " in chart and ">CL " in chart  # the limits say what they are
    points = re.findall(r'<circle class="pt[^"]*"[^>]*tabindex="0"[^>]*aria-label="Week of ([\d-]+): (\d+)"', chart)
    assert len(points) == 26 and {value for _week, value in points} >= {"0", "3", "4"}
    assert "<title>Week of" in chart
    assert "<summary>Data table</summary>" in panel and '<th scope="row">' in panel


def test_noise_gets_no_narration(client, member, team):
    deployments(team, {week: 3 + week % 2 for week in range(0, 26)})
    client.force_login(member)
    panel = speed_reliability(client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode())
    assert "No signal on these charts" in panel
    assert "In the week of" not in panel


def test_a_real_signal_is_read_in_a_sentence(client, member, team):
    deployments(team, {**{week: 3 + week % 2 for week in range(1, 26)}, 0: 20})
    client.force_login(member)
    panel = speed_reliability(client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode())
    monday = last_complete_monday().isoformat()
    assert (
        f"In the week of {monday}: Deployments above the upper control limit, "
        "while Change failure rate stayed within its control limits." in panel
    )
    assert 'class="pt pt-signal"' in panel
