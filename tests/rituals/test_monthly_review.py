"""The monthly operations review: its own agenda, the month's figures, frozen when the session opens."""

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse

from improvement.models import Check
from reporting import metrics
from rituals import review_board, tick
from rituals.models import ReviewSession, Ritual
from tests.factories import ActionFactory, IncidentFactory, ProblemFactory, RitualFactory
from tests.rituals.agendas import frozen_session_of, item

pytestmark = pytest.mark.django_db

MONTHLY_RULE = "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=10;BYMINUTE=0"


def month_of(team, lead, n=1, *, until):
    """The month before `until`: a problem that recurred, Checks verified and overridden, weekly decisions."""
    now = until
    in_month = now - dt.timedelta(days=5)
    for k in range(n):
        problem = ProblemFactory(team=team, title=f"Disk full {k}")
        for _ in range(2 + k):
            IncidentFactory(team=team, problem=problem, started_at=in_month)
        IncidentFactory(team=team, problem=ProblemFactory(team=team, title=f"Once {k}"), started_at=in_month)
        measured = {"verdict": "effective", "evidence": "computed"}
        for title, fields in (
            (f"Rotate logs {k}", {"computed_verdict": "effective", "measured_at": in_month, "p_value": 0.01}),
            (f"Bigger disks {k}", {"computed_verdict": "inconclusive", "overridden": True, "overridden_at": in_month}),
        ):
            action = ActionFactory(team=team, title=title, stage="done")
            Check.objects.create(team=team, action=action, decided_by=lead, **measured, **fields)
        weekly = frozen_session_of(team, [item("incidents", k)], occurrence=in_month + dt.timedelta(minutes=k))
        review_board.create_action_from_board(
            session=weekly, item_id=weekly.agenda["items"][0]["id"], by=lead, title=f"Alert on disk {k}"
        )
    old = frozen_session_of(team, [item("incidents", 99)], occurrence=now - dt.timedelta(days=60))
    review_board.create_action_from_board(session=old, item_id=old.agenda["items"][0]["id"], by=lead, title="Old one")


def monthly_ritual(team, lead):
    ritual = RitualFactory(team=team, kind=Ritual.Kind.MONTHLY_OPS_REVIEW, rrule=MONTHLY_RULE, name="Monthly ops")
    ritual.attendees.set([lead])
    ritual.refresh_from_db()
    return ritual


def open_monthly(team, lead, n=1, *, also=()):
    """The monthly review's session as the tick opens it, after a month of `team` (and of the `also` teams)."""
    ritual = monthly_ritual(team, lead)
    for other in (team, *also):
        month_of(other, lead, n, until=ritual.next_occurrence)
    assert tick.run_tick(now=ritual.next_occurrence + dt.timedelta(minutes=1))
    return ReviewSession.objects.get(ritual=ritual)


def test_the_monthly_review_freezes_the_months_figures_not_the_weekly_items(team, lead, other_team):
    session = open_monthly(team, lead, also=[other_team])  # the other team's month never counts here
    month = session.agenda["monthly"]
    assert session.agenda["items"] == []  # not the weekly agenda again
    assert session.agenda["since"] == (session.occurrence - relativedelta(months=1)).isoformat()
    assert [p["title"] for p in month["problems"]] == ["Disk full 0"]  # twice in the month: recurring
    assert month["problems"][0]["incidents"] == 2
    assert [c["title"] for c in month["verified"]] == ["Rotate logs 0"]
    assert [(c["title"], c["by"]) for c in month["overridden"]] == [("Bigger disks 0", lead.username)]
    assert [d["text"] for d in month["decisions"]] == ["New action: Alert on disk 0"]  # not the old one
    assert [p["pole"] for p in month["poles"]] == ["flexibility", "speed", "reliability"]


def test_the_trends_are_the_dashboards_weekly_series(team, lead):
    session = open_monthly(team, lead)
    frozen_at = dt.datetime.fromisoformat(session.agenda["frozen_at"])
    since = dt.datetime.fromisoformat(session.agenda["since"])
    weekly = metrics.weekly_series(metrics.build_scope(teams=team, now=frozen_at))
    incidents = weekly["series"]["incidents"]
    in_month = [v for w, v in zip(weekly["weeks"], incidents["values"], strict=True) if w >= since.date()]
    reliability = next(p for p in session.agenda["monthly"]["poles"] if p["pole"] == "reliability")
    trend = next(t for t in reliability["trends"] if t["key"] == "incidents")
    assert trend["month"] == pytest.approx(sum(in_month) / len(in_month))
    assert trend["centre"] == pytest.approx(incidents["limits"]["centre"])


def test_the_monthly_board_shows_the_month_in_english_and_french(client, lead, team):
    session = open_monthly(team, lead)
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, session.pk])
    page = client.get(url).content.decode()
    month = page[page.index('id="month"') : page.index("</section>\n", page.index('id="month-decisions"'))]
    assert "The month in review" in month and "Top recurring problems" in month
    assert "Disk full 0" in month and "Rotate logs 0" in month and "Bigger disks 0" in month
    assert "New action: Alert on disk 0" in month and "Old one" not in month
    assert "The agenda is empty" not in page
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Le mois en revue" in french and "Problèmes récurrents les plus fréquents" in french


def test_another_teams_monthly_review_is_404(client, lead, team, other_team):
    ritual = monthly_ritual(other_team, lead)
    assert tick.run_tick(now=ritual.next_occurrence + dt.timedelta(minutes=1))
    session = ReviewSession.objects.get(ritual=ritual)
    client.force_login(lead)
    assert client.get(reverse("rituals:review", args=[other_team.slug, session.pk])).status_code == 404
    assert client.get(reverse("rituals:review", args=[team.slug, session.pk])).status_code == 404


@pytest.mark.parametrize("n", [1, 5])
def test_the_monthly_board_costs_the_same_queries_at_any_size(client, lead, team, n, django_assert_num_queries):
    session = open_monthly(team, lead, n)
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, session.pk])
    client.get(url)
    with django_assert_num_queries(MONTHLY_BOARD_QUERIES):
        response = client.get(url)
    assert response.content.decode().count("Rotate logs") == n


# The figures are frozen: the board reads them from the agenda, whatever the month held.
MONTHLY_BOARD_QUERIES = 13  # the month's figures read the metric targets too
