"""The monthly operations report: every number is the metrics API's for the same period, page and PDF."""

import datetime as dt
import html as html_lib
import io
import re

import pytest
from django.urls import reverse
from pypdf import PdfReader

from reporting.metrics.catalogue import FIGURES, figure_value
from reporting.views import format_value
from rituals.models import ReviewDecision
from rituals.report import month_bounds
from teams.services import grant_observer
from tests.factories import (
    ChangeFactory,
    IncidentFactory,
    MembershipFactory,
    ProblemFactory,
    ReviewSessionFactory,
    RitualFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
MONTH = dt.date(2026, 10, 1)


def october(team, *, incidents=6, changes=8):
    service = ServiceFactory(team=team)
    problem = ProblemFactory(team=team, title=f"{team.name} queue backs up")
    for i in range(incidents):
        start = dt.datetime(2026, 10, 2, 9, tzinfo=dt.UTC) + dt.timedelta(days=3 * i)
        IncidentFactory(
            team=team, service=service, problem=problem if i % 2 else None, started_at=start,
            detected_at=start + dt.timedelta(minutes=4), acknowledged_at=start + dt.timedelta(minutes=9),
            mitigated_at=start + dt.timedelta(minutes=20 + 7 * i), resolved_at=start + dt.timedelta(hours=2 + i),
        )  # fmt: skip
    for i in range(changes):
        deployed = dt.datetime(2026, 9, 20, 14, tzinfo=dt.UTC) + dt.timedelta(days=5 * i)
        ChangeFactory(
            team=team, service=service, deployed_at=deployed, committed_at=deployed - dt.timedelta(hours=3 + i),
            failed=i % 3 == 0, kind="emergency" if i == 2 else "normal",
        )  # fmt: skip
    session = ReviewSessionFactory(
        ritual=RitualFactory(team=team), occurrence=dt.datetime(2026, 10, 12, 10, tzinfo=dt.UTC)
    )
    ReviewDecision.objects.create(
        team=team, session=session, kind=ReviewDecision.Kind.ACTION_CREATED, text="Add a canary stage",
        at=session.occurrence,
    )  # fmt: skip
    return team


def cells(page: str, attribute: str) -> dict[str, str]:
    return {
        key: html_lib.unescape(value).strip()
        for key, value in re.findall(rf'data-{attribute}="([a-z_]+)">([^<]*)</td>', page)
    }


def api(client, **params):
    response = client.get(reverse("metrics_api:figures"), params)
    assert response.status_code == 200
    return response.json()


def assert_numbers_are_the_apis(client, page: str, **team):
    first, last = month_bounds(MONTH)
    figures = api(client, **team, **{"from": first.isoformat(), "to": last.isoformat()})
    previous = api(client, **team, **{"from": "2026-09-01", "to": "2026-09-30"})
    shown, counts, before = cells(page, "figure"), cells(page, "figure-count"), cells(page, "figure-previous")
    assert set(shown) == set(FIGURES)
    for key, spec in FIGURES.items():
        value = figure_value(figures, key)
        assert shown[key] == format_value(spec.reading, value["value"]), key
        assert before[key] == format_value(spec.reading, figure_value(previous, key)["value"]), key
        if value["of"] is not None:
            assert counts[key] == f"{value['count']} of {value['of']}", key
        elif value["count"] is not None:
            assert counts[key] == str(value["count"]), key
    # The control charts: each week's point is the weekly API's value.
    weekly = client.get(reverse("metrics_api:weekly"), {**team, "from": "2026-05-04", "to": last.isoformat()}).json()
    for key in ("incidents", "time_to_mitigate_p50", "change_failure_rate", "deployments"):
        chart = page[page.index(f'id="report-chart-{key}"') :]
        chart = chart[: chart.index("</svg>")]
        points = dict(re.findall(r'aria-label="Week of ([\d-]+): ([^"]+)"', chart))
        series = weekly["series"][key]
        from reporting.charts import format_series_value

        expected = {
            week: format_series_value(series, value)
            for week, value in zip(weekly["weeks"], series["values"], strict=True)
            if value is not None
        }
        assert {week: html_lib.unescape(text) for week, text in points.items()} == expected, key
        assert len(expected) >= 1
    return figures


def test_every_number_of_a_teams_report_is_the_apis(client):
    team = october(TeamFactory(name="Ops", timezone="Europe/Paris"))
    user = MembershipFactory(team=team, role="viewer").user
    client.force_login(user)
    page = client.get(reverse("rituals:monthly_report", args=[team.slug]), {"month": "2026-10"}).content.decode()
    figures = assert_numbers_are_the_apis(client, page, team=team.slug)
    assert figures["reliability"]["incidents"] == 6
    assert "Ops queue backs up" in page and "Add a canary stage" in page
    assert "Monthly operations report — October 2026" in page


def test_every_number_across_teams_is_the_apis_for_the_visible_teams(client):
    ops, web = october(TeamFactory(name="Ops")), october(TeamFactory(name="Web"), incidents=3, changes=4)
    hidden = october(TeamFactory(name="Hidden"), incidents=9)
    user = MembershipFactory(team=ops).user
    MembershipFactory(team=web, user=user)
    client.force_login(user)
    page = client.get(reverse("monthly:teams"), {"month": "2026-10"}).content.decode()
    figures = assert_numbers_are_the_apis(client, page)
    assert figures["reliability"]["incidents"] == 9  # Ops and Web, never Hidden
    assert f'data-team="{ops.slug}"' in page and f'data-team="{web.slug}"' in page
    assert "Hidden" not in page and hidden.slug not in page


def test_an_observer_reports_on_every_team(client):
    october(TeamFactory(name="Ops"))
    october(TeamFactory(name="Web"))
    observer = UserFactory()
    grant_observer(user=observer, by=UserFactory(is_superuser=True, is_staff=True))
    client.force_login(observer)
    page = client.get(reverse("monthly:teams"), {"month": "2026-10"}).content.decode()
    assert "2 teams" in page and "Ops queue backs up" in page and "Web queue backs up" in page


def test_the_pdf_carries_the_same_numbers_in_french(client):
    team = october(TeamFactory(name="Ops"))
    client.force_login(MembershipFactory(team=team).user)
    response = client.get(reverse("rituals:monthly_report_pdf", args=[team.slug]), {"month": "2026-10", "lang": "fr"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = re.sub(r"\s+", " ", text)
    assert "Rapport mensuel des opérations" in text and "octobre 2026" in text
    figures = api(client, team=team.slug, **{"from": "2026-10-01", "to": "2026-10-31"})
    assert f"Incidents {figures['reliability']['incidents']} " in text
    cfr = figures["reliability"]["change_failure_rate"]
    assert f"{cfr['count']} sur {cfr['of']}" in text


def test_a_wrong_month_is_a_form_error_not_a_500(client):
    team = TeamFactory()
    client.force_login(MembershipFactory(team=team).user)
    response = client.get(reverse("rituals:monthly_report", args=[team.slug]), {"month": "October"})
    assert response.status_code == 400 and "Enter a month as YYYY-MM." in response.content.decode()
    pdf = client.get(reverse("rituals:monthly_report_pdf", args=[team.slug]), {"month": "2026-13"})
    assert pdf.status_code == 400


def test_another_teams_report_is_a_404(client):
    team, other = TeamFactory(), TeamFactory()
    client.force_login(MembershipFactory(team=team).user)
    assert client.get(reverse("rituals:monthly_report", args=[other.slug])).status_code == 404
    assert client.get(reverse("rituals:monthly_report_pdf", args=[other.slug])).status_code == 404


def test_the_report_is_reachable_from_the_dashboard_and_across_teams(client):
    team = TeamFactory()
    user = MembershipFactory(team=team).user
    MembershipFactory(team=TeamFactory(), user=user)
    client.force_login(user)
    assert (
        reverse("rituals:monthly_report", args=[team.slug])
        in client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    )
    assert reverse("monthly:teams") in client.get(reverse("reports:teams")).content.decode()


def test_the_query_count_does_not_grow_with_the_teams(client, django_assert_num_queries, django_assert_max_num_queries):
    user = MembershipFactory(team=october(TeamFactory(name="Ops"))).user
    client.force_login(user)
    url = reverse("monthly:teams")
    with django_assert_max_num_queries(60) as few:
        client.get(url, {"month": "2026-10"})
    for name in ("Web", "Data", "Network"):
        MembershipFactory(team=october(TeamFactory(name=name)), user=user)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url, {"month": "2026-10"})
