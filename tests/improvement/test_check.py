"""The Check: exact Poisson test, windows from the stage history, verdicts, and the due-checks sweep."""

import datetime as dt
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError

from improvement import checks, services, stats
from improvement.models import Check, Stage, Verdict
from tests.factories import ActionFactory, ChangeFactory, ContributingFactorFactory, IncidentFactory, ServiceFactory
from tests.reporting.metrics_data import at, move

DO_AT = at("2026-03-01 00:00")
AFTER_WINDOW = at("2026-04-01 00:00")  # 28-day window ends 29 March; 48 h of grace


# --- the exact test ---------------------------------------------------------------------------


def test_poisson_test_ten_before_two_after_is_significant():
    """n = 12, K ~ Binomial(12, 1/2); P(K ≤ 2) = (C(12,0) + C(12,1) + C(12,2)) / 2¹² = (1 + 12 + 66) / 4096."""
    assert stats.poisson_rate_test(10, 2) == float(Fraction(79, 4096))  # 0.019287…


def test_poisson_test_six_before_three_after_is_not_significant():
    """n = 9; P(K ≤ 3) = (1 + 9 + 36 + 84) / 512 = 130 / 512 = 0.25390625."""
    assert stats.poisson_rate_test(6, 3) == 0.25390625


def test_poisson_test_increase_uses_the_upper_tail():
    """Target: more deployments. 2 before, 8 after: P(K ≥ 8 | n = 10) = (45 + 10 + 1) / 1024 = 56 / 1024."""
    assert stats.poisson_rate_test(2, 8, direction="increase") == 56 / 1024


def test_unequal_exposures_use_the_binomial_share():
    """Baseline 3 weeks, observed 1 week: share 1/4. P(K ≤ 1 | n = 3) = 0.75³ + 3 × 0.25 × 0.75² = 0.84375."""
    p = stats.poisson_rate_test(2, 1, baseline_exposure=3, observed_exposure=1)
    assert p == pytest.approx(0.84375, rel=1e-12)


def test_large_counts_stay_exact_and_finite():
    # Symmetric case: P(K ≤ 1000 | n = 2000) = 1/2 + C(2000, 1000) / 2²⁰⁰¹.
    import math

    expected = float(Fraction(1, 2) + Fraction(math.comb(2000, 1000), 2**2001))
    assert stats.poisson_rate_test(1000, 1000) == expected


# --- compute_check ----------------------------------------------------------------------------


def action_in_check(**kwargs):
    """An action that entered Do on 1 March 2026 and Check on 29 March, with a 28-day window."""
    action = ActionFactory(stage_entered_at=at("2026-01-10 00:00"), **kwargs)
    move(action, Stage.DO, DO_AT, Stage.PLAN)
    move(action, Stage.CHECK, at("2026-03-29 12:00"), Stage.DO)
    return action


def incidents_on(action, service, *days, **kwargs):
    for offset in days:
        started = DO_AT + dt.timedelta(days=offset, hours=1)
        IncidentFactory(team=action.team, service=service, started_at=started, detected_at=started, **kwargs)


@pytest.mark.django_db
def test_check_on_a_service_counts_incidents_before_and_after_entering_do():
    action = action_in_check()
    incidents_on(action, action.target_service, -27, -20, -15, -14, -10, -8, -6, -5, -3, -1, 2, 20)
    incidents_on(action, ServiceFactory(team=action.team), -5, 3)  # another service: ignored
    incidents_on(action, action.target_service, -40, 30)  # outside both windows
    check = checks.compute_check(action, now=AFTER_WINDOW)
    check.refresh_from_db()
    assert (check.baseline_count, check.observed_count) == (10, 2)
    assert (check.baseline_value, check.observed_value) == (10.0, 2.0)
    assert check.baseline_start == DO_AT - dt.timedelta(days=28)
    assert (check.baseline_end, check.observed_start) == (DO_AT, DO_AT)
    assert check.observed_end == DO_AT + dt.timedelta(days=28)
    assert check.p_value == pytest.approx(79 / 4096)
    assert check.computed_verdict == Verdict.EFFECTIVE
    assert "conditional binomial" in check.method
    assert check.verdict == ""  # the team confirms when it leaves Check


@pytest.mark.django_db
def test_the_team_confirms_the_computed_verdict_when_leaving_check():
    action = action_in_check()
    incidents_on(action, action.target_service, *range(-27, -17), 5, 6)
    checks.compute_check(action, now=AFTER_WINDOW)
    services.move_action(action=action, to_stage=Stage.ACT, at=AFTER_WINDOW)
    check = Check.objects.get(action=action)
    assert (check.verdict, check.overridden) == (Verdict.EFFECTIVE, False)


@pytest.mark.django_db
def test_no_change_in_the_rate_is_not_effective():
    action = action_in_check()
    incidents_on(action, action.target_service, -20, -15, -10, 3, 8, 12, 15)
    check = checks.compute_check(action, now=AFTER_WINDOW)
    # 3 before, 4 after: P(K ≤ 4 | n = 7) = (1 + 7 + 21 + 35 + 35) / 128 = 99/128.
    assert check.p_value == pytest.approx(99 / 128)
    assert check.computed_verdict == Verdict.NOT_EFFECTIVE


@pytest.mark.django_db
def test_an_improvement_that_is_not_significant_is_inconclusive():
    action = action_in_check()
    incidents_on(action, action.target_service, -25, -20, -18, -15, -10, -5, 3, 8, 12)
    check = checks.compute_check(action, now=AFTER_WINDOW)
    assert check.p_value == pytest.approx(130 / 512)
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert "not significantly" in check.method


@pytest.mark.django_db
def test_too_few_incidents_is_inconclusive_and_says_so():
    action = action_in_check()
    incidents_on(action, action.target_service, -20, -10)  # even 2 → 0 gives p = 1/4
    check = checks.compute_check(action, now=AFTER_WINDOW)
    assert (check.baseline_count, check.observed_count) == (2, 0)
    assert check.p_value == 0.25
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert "Too little data" in check.method


@pytest.mark.django_db
def test_the_product_does_not_record_a_check_before_the_window_and_its_grace_period_end():
    action = action_in_check()
    incidents_on(action, action.target_service, *range(-27, -17))
    for now in (at("2026-03-10 00:00"), at("2026-03-30 12:00")):  # in the window; in the 48 h of grace
        with pytest.raises(ValidationError) as refused:
            checks.compute_check(action, now=now)
        assert "grace period" in refused.value.message_dict["check_window_days"][0]
    assert not Check.objects.filter(action=action).exists()
    so_far = checks.measure(action, now=at("2026-03-10 00:00"))  # the evidence so far, shown on the page
    assert (so_far["baseline_count"], so_far["computed_verdict"]) == (10, Verdict.INCONCLUSIVE)
    assert "has not ended" in so_far["method"]


@pytest.mark.django_db
def test_check_on_a_problem_and_on_a_factor_category():
    from tests.factories import PostmortemFactory, ProblemFactory

    problem_action = action_in_check(target_kind="problem", target_service=None)
    problem = ProblemFactory(team=problem_action.team)
    problem_action.target_problem = problem
    problem_action.save()
    incidents_on(problem_action, None, -3, -2, -1, 1, problem=problem)
    check = checks.compute_check(problem_action, now=AFTER_WINDOW)
    assert (check.baseline_count, check.observed_count) == (3, 1)

    factor_action = action_in_check(
        target_kind="factor_category", target_service=None, target_factor_category="capacity"
    )
    for offset, category in ((-3, "capacity"), (-2, "change"), (4, "capacity")):
        started = DO_AT + dt.timedelta(days=offset)
        incident = IncidentFactory(team=factor_action.team, started_at=started, detected_at=started)
        postmortem = PostmortemFactory(incident=incident, team=factor_action.team)
        ContributingFactorFactory(postmortem=postmortem, category=category)
        ContributingFactorFactory(postmortem=postmortem, category=category)  # two factors: still one incident
    # Factors wait for the postmortem deadline (5 days), not only the 48 h of grace.
    check = checks.compute_check(factor_action, now=AFTER_WINDOW + dt.timedelta(days=3))
    assert (check.baseline_count, check.observed_count) == (1, 1)


@pytest.mark.django_db
def test_duration_metric_compares_medians():
    action = action_in_check(target_kind="metric", target_service=None, target_metric="lead_time")
    before = [(-20, 10), (-18, 12), (-15, 8), (-10, 20), (-5, 9)]
    after = [(2, 4), (5, 5), (9, 3), (15, 6), (20, 30)]
    for offset, hours in before + after:
        deployed = DO_AT + dt.timedelta(days=offset)
        ChangeFactory(team=action.team, deployed_at=deployed, committed_at=deployed - dt.timedelta(hours=hours))
    check = checks.compute_check(action, now=AFTER_WINDOW)
    # Before: 8 9 10 12 20 → median 10 h; after: 3 4 5 6 30 → median 5 h: half, yet one slow change is enough
    # to leave it unproven. U(after) = 5 (30 h beats all five); P(U ≤ 5) for 5 vs 5 = (1+1+2+3+5+7) / C(10, 5).
    assert check.baseline_value == 10 * 3600
    assert check.observed_value == 5 * 3600
    assert (check.baseline_count, check.observed_count) == (5, 5)
    assert check.p_value == pytest.approx(19 / 252)
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert "Mann-Whitney" in check.method


@pytest.mark.django_db
def test_duration_metric_with_too_few_values_is_inconclusive():
    action = action_in_check(target_kind="metric", target_service=None, target_metric="time_to_mitigate")
    started = DO_AT - dt.timedelta(days=3)
    IncidentFactory(team=action.team, started_at=started, detected_at=started, mitigated_at=started + dt.timedelta(1))
    check = checks.compute_check(action, now=AFTER_WINDOW)
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert check.observed_value is None
    assert "Too little data" in check.method


@pytest.mark.django_db
def test_an_action_outside_check_cannot_be_recorded():
    action = ActionFactory()
    move(action, Stage.DO, DO_AT, Stage.PLAN)
    with pytest.raises(ValidationError) as excinfo:
        checks.compute_check(action, now=AFTER_WINDOW)
    assert "stage" in excinfo.value.message_dict
    assert not Check.objects.exists()


@pytest.mark.django_db
def test_due_checks_measures_only_ended_windows_once(django_assert_max_num_queries):
    ended = action_in_check()
    running = ActionFactory(stage_entered_at=at("2026-01-10 00:00"))
    move(running, Stage.DO, at("2026-03-20 00:00"), Stage.PLAN)
    move(running, Stage.CHECK, at("2026-03-25 00:00"), Stage.DO)
    measured = checks.compute_due_checks(now=AFTER_WINDOW)
    assert [check.action_id for check in measured] == [ended.pk]
    assert not Check.objects.filter(action=running).exists()
    with django_assert_max_num_queries(2):
        assert checks.compute_due_checks(now=AFTER_WINDOW) == []


@pytest.mark.django_db
def test_metric_target_counts_failed_deployments_in_the_target_direction():
    action = action_in_check(target_kind="metric", target_service=None, target_metric="failed_deployments")
    for offset in (-25, -20, -16, -12, -9, -7, -4, -2, 6):
        deployed = DO_AT + dt.timedelta(days=offset)
        ChangeFactory(team=action.team, deployed_at=deployed, failed=True)
    ChangeFactory(team=action.team, deployed_at=DO_AT + dt.timedelta(days=3), failed=False)  # not a failure
    check = checks.compute_check(action, now=AFTER_WINDOW)
    # 8 before, 1 after: P(K ≤ 1 | n = 9) = (1 + 9) / 512.
    assert (check.baseline_count, check.observed_count) == (8, 1)
    assert check.p_value == 10 / 512
    assert check.computed_verdict == Verdict.EFFECTIVE


def test_fisher_exact_test_against_a_hand_computation():
    """Before 5 failed of 10, after 0 of 10: K = 5 of N = 20, X ~ Hypergeometric(20, 5, 10);
    P(X ≤ 0) = C(5,0)·C(15,10) / C(20,10) = 3003 / 184756 = 0.016254…"""
    assert stats.fisher_exact_one_sided(5, 10, 0, 10, direction="decrease") == 3003 / 184756
    # P(X ≥ 5) for the reverse direction is the same table read the other way.
    assert stats.fisher_exact_one_sided(0, 10, 5, 10, direction="increase") == 3003 / 184756
    assert stats.smallest_fisher_p_value(3, 3, 1, direction="decrease") == 0.5


@pytest.mark.django_db
def test_change_failure_rate_target_uses_the_fisher_test():
    action = action_in_check(target_kind="metric", target_service=None, target_metric="change_failure_rate")
    for n in range(10):
        before = DO_AT - dt.timedelta(days=20, hours=-n)
        after = DO_AT + dt.timedelta(days=5, hours=n)
        ChangeFactory(team=action.team, deployed_at=before, failed=n < 4)
        causing = ChangeFactory(team=action.team, deployed_at=after, failed=False)
        if n == 0:  # one failure after: an incident names the change as its cause
            IncidentFactory(team=action.team, caused_by_change=causing, started_at=after, detected_at=after)
    check = checks.compute_check(action, now=AFTER_WINDOW)
    # 4 of 10 before, 1 of 10 after: K = 5; P(X ≤ 1) = (C(15,10) + 5·C(15,9)) / C(20,10) = (3003 + 25025) / 184756.
    assert (check.baseline_value, check.observed_value) == (0.4, 0.1)
    assert (check.baseline_count, check.observed_count) == (10, 10)
    assert check.p_value == 28028 / 184756
    assert check.computed_verdict == Verdict.INCONCLUSIVE
    assert "Fisher" in check.method
