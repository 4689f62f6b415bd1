"""The Check against data built to fool a before/after test: team-wide drops, the triggering spike in the
baseline, one outage logged many times, incidents still open. Expected values are computed here by hand."""

import datetime as dt
import math
from fractions import Fraction

import pytest
from django.urls import reverse

from improvement import checks
from improvement.models import Stage, Verdict
from tests.factories import ActionFactory, IncidentFactory, ProblemFactory, ServiceFactory
from tests.reporting.metrics_data import at, move

pytestmark = pytest.mark.django_db
DO_AT = at("2026-03-01 00:00")
MEASURED = at("2026-04-02 00:00")  # 28-day window + 48 h of grace, passed


def in_check(**kwargs):
    action = ActionFactory(stage_entered_at=at("2026-01-10 00:00"), **kwargs)
    move(action, Stage.DO, DO_AT, Stage.PLAN)
    move(action, Stage.CHECK, at("2026-03-29 12:00"), Stage.DO)
    return action


def log(team, service, offsets, **kwargs):
    found = []
    for offset in offsets:
        started = DO_AT + dt.timedelta(days=offset, hours=1)
        found.append(IncidentFactory(team=team, service=service, started_at=started, detected_at=started, **kwargs))
    return found


def spread(n, lo, hi):
    """n day offsets spread over [lo, hi)."""
    return [lo + (hi - lo) * i / n for i in range(n)]


def fisher_less(a, b, c, d) -> Fraction:
    """P(X ≤ a) for the 2 × 2 table [[a, b], [c, d]] with its margins fixed (hypergeometric), exactly."""
    row, col, total = a + b, a + c, a + b + c + d
    low = max(0, row + col - total)
    ways = sum(math.comb(col, x) * math.comb(total - col, row - x) for x in range(low, a + 1))
    return Fraction(ways, math.comb(total, row))


def test_a_team_wide_drop_is_not_credited_to_the_action():
    action = in_check()
    other = ServiceFactory(team=action.team)
    log(action.team, action.target_service, spread(12, -28, 0) + spread(4, 0, 28))
    log(action.team, other, spread(40, -28, 0) + spread(13, 0, 28))  # the whole team dropped alike
    # Before/after alone: P(Bin(16, ½) ≤ 4) = 2517 / 65536 = 0.038, "effective".
    assert Fraction(sum(math.comb(16, i) for i in range(5)), 2**16) < Fraction(5, 100)
    check = checks.compute_check(action, now=MEASURED)
    assert (check.test, check.comparison_baseline_count, check.comparison_observed_count) == ("comparison", 40, 13)
    assert check.p_value == pytest.approx(float(fisher_less(4, 12, 13, 40)), rel=1e-9)
    assert check.computed_verdict != Verdict.EFFECTIVE
    assert "rest of the team" in check.method


def test_an_effect_beyond_the_rest_of_the_team_survives_the_comparison():
    action = in_check()
    other = ServiceFactory(team=action.team)
    log(action.team, action.target_service, spread(12, -28, 0) + spread(2, 0, 28))
    log(action.team, other, spread(40, -28, 0) + spread(38, 0, 28))
    check = checks.compute_check(action, now=MEASURED)
    expected = fisher_less(2, 12, 38, 40)
    assert expected < Fraction(5, 100)
    assert check.p_value == pytest.approx(float(expected), rel=1e-9)
    assert (check.test, check.computed_verdict) == ("comparison", Verdict.EFFECTIVE)
    assert check.ci_high is not None and check.ci_high < 1  # the one-sided bound excludes 1, as p < 0.05 says
    assert check.effect < 1


def test_the_spike_that_created_the_action_is_left_out_of_the_baseline():
    action = in_check()
    spike = log(action.team, action.target_service, [-2.5, -2.3, -2.1, -1.9, -1.7, -1.5])
    action.incidents.add(*spike)  # the origin incidents, linked before Do
    log(action.team, action.target_service, [-20, -14, -8, 5, 17])
    # With the spike: 9 → 2, P(Bin(11, ½) ≤ 2) = 67/2048 = 0.033 "effective"; without it 3 → 2.
    check = checks.compute_check(action, now=MEASURED)
    assert (check.excluded_incidents, check.baseline_count, check.observed_count) == (6, 3, 2)
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert "left out" in check.method


def test_one_outage_logged_as_several_incidents_counts_once():
    action = in_check()
    problem = ProblemFactory(team=action.team)
    burst = DO_AT - dt.timedelta(days=10)
    for minutes in (0, 20, 45, 90, 200):  # five tickets of one outage, within 6 hours
        started = burst + dt.timedelta(minutes=minutes)
        IncidentFactory(
            team=action.team, service=action.target_service, problem=problem, started_at=started, detected_at=started
        )
    later = burst + dt.timedelta(days=3)  # the same problem again three days later: another outage
    IncidentFactory(
        team=action.team, service=action.target_service, problem=problem, started_at=later, detected_at=later
    )
    log(action.team, action.target_service, [-20, 4])  # no problem: each counts
    check = checks.compute_check(action, now=MEASURED)
    assert (check.baseline_count, check.observed_count) == (3, 1)


def test_incidents_still_open_count_as_the_longest_durations():
    action = in_check(target_kind="metric", target_service=None, target_metric="time_to_mitigate")
    for offset, hours in [(-20, 1), (-18, 2), (-15, 3), (-10, 4), (-5, 5)]:
        started = DO_AT + dt.timedelta(days=offset)
        IncidentFactory(
            team=action.team, started_at=started, detected_at=started, mitigated_at=started + dt.timedelta(hours=hours)
        )
    for offset, hours in [(2, 0.5), (5, 0.5), (9, 0.5), (15, None), (20, None)]:  # two never mitigated
        started = DO_AT + dt.timedelta(days=offset)
        mitigated = None if hours is None else started + dt.timedelta(hours=hours)
        IncidentFactory(
            team=action.team, started_at=started, detected_at=started, mitigated_at=mitigated, status="open"
        )
    check = checks.compute_check(action, now=MEASURED)
    # Left out, the three 30-minute mitigations would look like a clear drop; counted as the longest, the two
    # open ones beat all five before: U(after) = 10 of 25, which no one-sided test calls an improvement.
    assert check.observed_count == 5
    assert check.computed_verdict != Verdict.EFFECTIVE
    assert "2 still open" in check.method


def test_a_plan_says_what_its_window_can_show(client, member):
    action = ActionFactory(team=member.memberships.first().team, owner=member, check_window_days=14)
    now = dt.datetime.now(dt.UTC)
    for offset in spread(6, -13.5, 0):
        started = now + dt.timedelta(days=offset)
        IncidentFactory(team=action.team, service=action.target_service, started_at=started, detected_at=started)
    found = checks.sizing(action)
    # 6 incidents in 14 days, before/after over an equal window: only 0 afterwards is significant (1/64), so
    # 80 % power needs a true drop of 1 − ln(1.25)/6 = 96.3 %, and a 50 % drop has power e^−3.
    assert found["test"] == "before_after" and found["baseline_count"] == 6
    assert found["detectable_change"] == pytest.approx(1 - math.log(1.25) / 6, abs=1e-4)
    assert found["power"] == pytest.approx(math.exp(-3), abs=1e-4)
    client.force_login(member)
    page = client.get(reverse("improvement:action_detail", args=[action.team.slug, action.pk])).content.decode()
    assert "What this window can show" in page and "96 %" in page


def test_a_plan_with_no_baseline_says_a_decrease_cannot_be_measured(member):
    action = ActionFactory(team=member.memberships.first().team)
    found = checks.sizing(action)
    assert found["baseline_count"] == 0 and found["detectable_change"] is None
    assert "cannot be measured" in found["reason"]


def test_two_incidents_at_the_same_minute_without_a_problem_count_twice():
    action = in_check()
    log(action.team, action.target_service, [-10, -10, 3])
    check = checks.compute_check(action, now=MEASURED)
    assert (check.baseline_count, check.observed_count) == (2, 1)
