"""Every figure of the dashboard links to the rows it counts, and those rows add up to the figure."""

import datetime as dt
import os
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from reporting import metrics
from reporting.metrics.catalogue import FIGURES, figure_value
from teams.models import Service, Team

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
PERIOD = {"start": "2026-03-09", "end": "2026-05-31"}


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--weeks=12", "--today=2026-06-01", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return Team.objects.get(slug="platform-sre")


@pytest.fixture
def reader(demo, client):
    client.login(username="admin", password="kaizen-demo")
    return client


def rows_on_page(html: str) -> tuple[int, int]:
    return len(re.findall(r'<tr class="figure-row', html)), len(re.findall(r'<tr class="figure-row counted', html))


def expected(team, service, key):
    scope = metrics.build_scope(
        teams=team,
        service=service,
        start=dt.date.fromisoformat(PERIOD["start"]),
        end=dt.date.fromisoformat(PERIOD["end"]),
    )
    return figure_value(metrics.period_figures(scope), key)


def assert_rows_add_up(html, spec, figure):
    rows, counted = rows_on_page(html)
    if spec.reading == "share":
        assert (counted, rows) == (figure["count"], figure["of"]), spec.key
    elif spec.reading == "count":
        assert rows == figure["value"], spec.key
    else:
        assert rows == figure["count"], spec.key


def test_every_figure_links_to_rows_that_add_up_to_it_on_the_seeded_demo(reader, demo):
    """One seeding (it is slow) for every figure: the whole team, then one service, then the links."""
    figures = {key: expected(demo, None, key) for key in FIGURES}
    assert figures["deployment_frequency"]["count"] > 20  # the demo has rows: the test compares something
    assert figures["incidents"]["value"] > 5
    assert figures["change_failure_rate"]["count"] > 0
    assert figures["measured_share"]["of"] > 0
    for key, spec in FIGURES.items():
        html = reader.get(reverse("reporting:figure_rows", args=[demo.slug, key]), PERIOD).content.decode()
        assert_rows_add_up(html, spec, figures[key])
        assert escape(str(spec.definition)) in html

    service = Service.objects.filter(team=demo).order_by("name").first()
    seen_rows = 0
    for key, spec in FIGURES.items():
        html = reader.get(
            reverse("reporting:figure_rows", args=[demo.slug, key]), {**PERIOD, "service": service.pk}
        ).content.decode()
        assert_rows_add_up(html, spec, expected(demo, service, key))
        seen_rows += rows_on_page(html)[0]
    assert seen_rows > 0

    html = reader.get(
        reverse("reporting:dashboard", args=[demo.slug]), {**PERIOD, "service": service.pk}
    ).content.decode()
    for key in FIGURES:
        url = reverse("reporting:figure_rows", args=[demo.slug, key])
        assert f'href="{url}?service={service.pk}&amp;start=2026-03-09&amp;end=2026-05-31"' in html, key
    assert "2026-03-09 → 2026-05-31" in html
    assert "Default period" not in html
    # Figures that looked contradictory carry names and definitions that tell them apart.
    assert "Open actions now" in html
    assert "Improvement work in progress at the end of the period" in html
    assert "Checks measured by the product" in html and "Verified effective" in html
    assert "reached Check" not in html


def test_the_default_period_is_stated(client, member, team):
    client.force_login(member)
    html = client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    assert "Default period: the last 26 complete weeks, ending last Sunday." in html


def test_signals_come_first_and_routine_figures_are_folded(client, member, team):
    from tests.factories import ServiceFactory
    from tests.reporting.test_dashboard_page import incidents_in_week, last_complete_monday

    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for week in range(1, 12):
        incidents_in_week(team, service, monday - dt.timedelta(weeks=week), 1 + week % 2)
    incidents_in_week(team, service, monday, 12)
    client.force_login(member)
    html = client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    reliability = html[html.index('id="pole-reliability"') : html.index('id="pole-speed"')]
    assert reliability.index('id="figure-incidents"') < reliability.index('id="figure-time_to_mitigate"')
    folded = reliability[reliability.index('<details class="folded">') :]
    assert 'id="figure-time_to_acknowledge"' in folded and 'id="figure-incidents"' not in folded


def test_a_period_that_ends_before_it_starts_is_a_field_error(client, member, team):
    client.force_login(member)
    wrong = {"start": "2026-05-01", "end": "2026-04-01"}
    response = client.get(reverse("reporting:dashboard", args=[team.slug]), wrong)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_start_errors"' in html and "must not be after its end" in html
    response = client.get(reverse("reporting:figure_rows", args=[team.slug, "incidents"]), wrong)
    assert "must not be after its end" in response.content.decode()


def test_another_teams_service_is_a_field_error(client, member, team, other_team):
    from tests.factories import ServiceFactory

    elsewhere = ServiceFactory(team=other_team)
    client.force_login(member)
    response = client.get(reverse("reporting:dashboard", args=[team.slug]), {"service": elsewhere.pk})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="id_service_errors"' in html
    assert elsewhere.name not in html


def test_another_team_and_an_unknown_figure_are_404(client, member, team, other_team):
    client.force_login(member)
    assert client.get(reverse("reporting:dashboard", args=[other_team.slug])).status_code == 404
    assert client.get(reverse("reporting:figure_rows", args=[other_team.slug, "incidents"])).status_code == 404
    assert client.get(reverse("reporting:figure_rows", args=[team.slug, "no_such_figure"])).status_code == 404


def test_drilldown_query_count_does_not_grow_with_rows(client, member, team, django_assert_max_num_queries):
    from tests.factories import ChangeFactory, IncidentFactory, ServiceFactory
    from tests.reporting.test_dashboard_page import last_complete_monday

    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    start = dt.datetime.combine(monday, dt.time(10), tzinfo=dt.UTC)
    IncidentFactory(team=team, service=service, started_at=start, detected_at=start)
    ChangeFactory(team=team, service=service, deployed_at=start)
    client.force_login(member)
    urls = [reverse("reporting:figure_rows", args=[team.slug, key]) for key in ("incidents", "change_failure_rate")]
    counts = []
    for url in urls:
        client.get(url)
        with django_assert_max_num_queries(40) as few:
            client.get(url)
        counts.append(len(few.captured_queries))
    for i in range(12):
        at = start - dt.timedelta(days=i)
        IncidentFactory(team=team, service=service, started_at=at, detected_at=at)
        ChangeFactory(team=team, service=service, deployed_at=at, failed=i % 2 == 0)
    for url, count in zip(urls, counts, strict=True):
        with django_assert_max_num_queries(count):
            response = client.get(url)
        assert rows_on_page(response.content.decode())[0] >= 13
