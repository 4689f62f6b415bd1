"""The Check of an action: did its target move, measured on evidence rather than opinion.

Windows: the action entered Do at `d` (its latest StageTransition into Do); the
baseline is [d − w, d) and the observed window [d, d + w), w = check_window_days.

- Incident counts (target: a service, a problem, a contributing-factor category,
  or the metrics "incidents"/"incidents_sevN"/"failed_deployments"): exact Poisson rate
  comparison by the conditional binomial test — given n = k₀ + k₁ incidents in both
  windows, under "no change" k₁ ~ Binomial(n, ½); one-sided p-value in the target's
  direction (decrease: P(K ≤ k₁)). Effective when p < 0.05; not effective when
  the observed rate did not move in the target's direction; inconclusive otherwise,
  and inconclusive "too little data" when even the most favourable split of n
  incidents could not reach p < 0.05 (n ≤ 4 with equal windows).
- Change failure rate (metric "change_failure_rate"): failed deployments among
  deployments before and after, one-sided Fisher exact test (p-value stored);
  same verdict rules as the incident counts.
- Durations (metrics "time_to_detect", "time_to_acknowledge", "time_to_mitigate",
  "time_to_resolve", "lead_time"): medians before and after (linear-interpolation
  median). At least 5 values in each window, else inconclusive "too little data";
  effective when the median improved by at least 10 %; not effective when it did
  not improve at all; inconclusive in between.

The computed verdict is written with improvement.services.record_check; the team
confirms or overrides it when it moves the action out of Check (move_action).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from improvement import services, stats
from improvement.models import Action, Check, Stage, StageTransition, Verdict
from improvement.windows import COUNT_METRICS, DURATION_METRICS, entered_do_at, grace, measurable, schedule
from incidents.measures.db import Percentile, Seconds
from incidents.measures.queries import failed_change
from incidents.models import Change, Incident

ALPHA = 0.05
MIN_DURATIONS = 5
MIN_IMPROVEMENT = 0.10


def _windows(start: dt.datetime, days: int) -> tuple[tuple[dt.datetime, dt.datetime], tuple[dt.datetime, dt.datetime]]:
    length = dt.timedelta(days=days)
    return (start - length, start), (start, start + length)


def _incident_queryset(action: Action):
    found = Incident.objects.filter(team_id=action.team_id)
    kind = action.target_kind
    if kind == Action.TargetKind.SERVICE:
        return found.filter(service_id=action.target_service_id), _("incidents on the service")
    if kind == Action.TargetKind.PROBLEM:
        return found.filter(problem_id=action.target_problem_id), _("incidents of the problem")
    if kind == Action.TargetKind.FACTOR_CATEGORY:
        return (
            found.filter(postmortem__factors__category=action.target_factor_category),
            _("incidents with a “%(category)s” contributing factor") % {"category": action.target_factor_category},
        )
    return None, ""


def _count_in_windows(queryset, time_field: str, baseline, observed) -> tuple[int, int]:
    def within(window):
        return Q(**{f"{time_field}__gte": window[0], f"{time_field}__lt": window[1]})

    counts = queryset.aggregate(
        baseline=Count("id", filter=within(baseline), distinct=True),
        observed=Count("id", filter=within(observed), distinct=True),
    )
    return counts["baseline"], counts["observed"]


def _count_verdict(baseline_count: int, observed_count: int, direction: str) -> tuple[str, float | None, str]:
    n = baseline_count + observed_count
    p_value = stats.poisson_rate_test(baseline_count, observed_count, direction=direction)
    method = _(
        "Exact Poisson rate comparison (conditional binomial test): given n = %(n)s events in the two "
        "equal windows, observed ~ Binomial(n, 1/2) if nothing changed; one-sided (%(direction)s), "
        "p = %(p).4g, significance level %(alpha)s."
    ) % {"n": n, "direction": direction, "p": p_value, "alpha": ALPHA}
    if stats.smallest_p_value(n, direction=direction) >= ALPHA:
        return (
            Verdict.INCONCLUSIVE,
            p_value,
            method + " " + _("Too little data: with %(n)s events no outcome could be significant.") % {"n": n},
        )
    if p_value < ALPHA:
        return Verdict.EFFECTIVE, p_value, method
    moved = observed_count < baseline_count if direction == "decrease" else observed_count > baseline_count
    if not moved:
        return Verdict.NOT_EFFECTIVE, p_value, method + " " + _("The rate did not move in the target's direction.")
    return Verdict.INCONCLUSIVE, p_value, method + " " + _("The rate moved the right way, but not significantly.")


def _failure_rate_measure(action: Action, baseline, observed) -> dict:
    failed = failed_change()

    def within(window):
        return Q(deployed_at__gte=window[0], deployed_at__lt=window[1])

    row = Change.objects.filter(team_id=action.team_id).aggregate(
        n0=Count("id", filter=within(baseline)),
        f0=Count("id", filter=within(baseline) & failed),
        n1=Count("id", filter=within(observed)),
        f1=Count("id", filter=within(observed) & failed),
    )
    n0, f0, n1, f1 = row["n0"], row["f0"], row["n1"], row["f1"]
    direction = action.target_direction or Action.Direction.DECREASE
    found = {
        "baseline_value": f0 / n0 if n0 else None,
        "observed_value": f1 / n1 if n1 else None,
        "baseline_count": n0,
        "observed_count": n1,
        "p_value": None,
    }
    if not n0 or not n1:
        found["method"] = _("Change failure rate: no deployment in one of the windows, nothing to compare.")
        found["computed_verdict"] = Verdict.INCONCLUSIVE
        return found
    p_value = stats.fisher_exact_one_sided(f0, n0, f1, n1, direction=direction)
    method = _(
        "Change failure rate: %(f0)s failed of %(n0)s deployments before, %(f1)s of %(n1)s after; one-sided "
        "Fisher exact test (%(direction)s), p = %(p).4g, significance level %(alpha)s."
    ) % {"f0": f0, "n0": n0, "f1": f1, "n1": n1, "direction": direction, "p": p_value, "alpha": ALPHA}
    moved = f1 / n1 < f0 / n0 if direction == Action.Direction.DECREASE else f1 / n1 > f0 / n0
    if stats.smallest_fisher_p_value(n0, n1, f0 + f1, direction=direction) >= ALPHA:
        verdict = Verdict.INCONCLUSIVE
        method += " " + _("Too little data: with these counts no outcome could be significant.")
    elif p_value < ALPHA:
        verdict = Verdict.EFFECTIVE
    elif not moved:
        verdict = Verdict.NOT_EFFECTIVE
        method += " " + _("The rate did not move in the target's direction.")
    else:
        verdict = Verdict.INCONCLUSIVE
        method += " " + _("The rate moved the right way, but not significantly.")
    found.update(method=method, p_value=p_value, computed_verdict=verdict)
    return found


def _duration_measure(action: Action, metric: str, baseline, observed) -> dict:
    model, later, earlier, time_field = DURATION_METRICS[metric]
    queryset = model.objects.filter(team_id=action.team_id, **{f"{later}__isnull": False, f"{earlier}__isnull": False})

    def within(window):
        return Q(**{f"{time_field}__gte": window[0], f"{time_field}__lt": window[1]})

    row = queryset.aggregate(
        baseline=Percentile(Seconds(F(later), F(earlier)), 0.5, filter=within(baseline)),
        observed=Percentile(Seconds(F(later), F(earlier)), 0.5, filter=within(observed)),
        baseline_count=Count("id", filter=within(baseline)),
        observed_count=Count("id", filter=within(observed)),
    )
    direction = action.target_direction or Action.Direction.DECREASE
    method = _(
        "Comparison of medians (linear interpolation) of %(metric)s in seconds: %(b)s values before, "
        "%(o)s after; effective when the median improves by at least %(gain)s %% (%(direction)s)."
    ) % {
        "metric": metric,
        "b": row["baseline_count"],
        "o": row["observed_count"],
        "gain": int(MIN_IMPROVEMENT * 100),
        "direction": direction,
    }
    if min(row["baseline_count"], row["observed_count"]) < MIN_DURATIONS:
        verdict = Verdict.INCONCLUSIVE
        method += " " + _("Too little data: at least %(min)s values are needed in each window.") % {
            "min": MIN_DURATIONS
        }
    else:
        base, seen = row["baseline"], row["observed"]
        change = (seen - base) / base if base else (0.0 if seen == base else 1.0)
        gain = -change if direction == Action.Direction.DECREASE else change
        if gain >= MIN_IMPROVEMENT:
            verdict = Verdict.EFFECTIVE
        elif gain <= 0:
            verdict = Verdict.NOT_EFFECTIVE
        else:
            verdict = Verdict.INCONCLUSIVE
    return {
        "baseline_value": row["baseline"],
        "observed_value": row["observed"],
        "baseline_count": row["baseline_count"],
        "observed_count": row["observed_count"],
        "method": method,
        "p_value": None,
        "computed_verdict": verdict,
    }


def measure(action: Action, *, now: dt.datetime | None = None) -> dict:
    """Baseline, observed value, counts, windows, method, p-value and computed verdict (writes nothing)."""
    now = now or timezone.now()
    do_at = entered_do_at(action)
    if do_at is None:
        raise ValidationError({"stage": _("The action never entered Do: there is nothing to measure from.")})
    baseline, observed = _windows(do_at, action.check_window_days)
    direction = action.target_direction or Action.Direction.DECREASE
    found = {
        "baseline_start": baseline[0],
        "baseline_end": baseline[1],
        "observed_start": observed[0],
        "observed_end": observed[1],
    }
    metric = action.target_metric if action.target_kind == Action.TargetKind.METRIC else action.target_kind
    queryset, label = _incident_queryset(action)
    if queryset is None and metric in COUNT_METRICS:
        source, filters = COUNT_METRICS[metric]
        model, time_field = (Incident, "started_at") if source == "incidents" else (Change, "deployed_at")
        queryset, label = model.objects.filter(team_id=action.team_id, **filters), metric
        if metric == "failed_deployments":
            queryset = queryset.filter(failed_change())
    else:
        time_field = "started_at"
    if queryset is not None:
        k0, k1 = _count_in_windows(queryset, time_field, baseline, observed)
        verdict, p_value, method = _count_verdict(k0, k1, direction)
        found.update(
            metric=str(label)[:60],
            baseline_value=float(k0),
            observed_value=float(k1),
            baseline_count=k0,
            observed_count=k1,
            p_value=p_value,
            method=method,
            computed_verdict=verdict,
        )
    elif metric == "change_failure_rate":
        found.update(metric=metric, **_failure_rate_measure(action, baseline, observed))
    elif metric in DURATION_METRICS:
        found.update(metric=metric, **_duration_measure(action, metric, baseline, observed))
    else:
        found.update(
            metric=str(metric)[:60],
            baseline_value=None,
            observed_value=None,
            baseline_count=None,
            observed_count=None,
            p_value=None,
            method=_("“%(metric)s” cannot be measured automatically: record baseline and observed by hand.")
            % {"metric": metric},
            computed_verdict=Verdict.INCONCLUSIVE,
        )
    if now < observed[1]:
        found["computed_verdict"] = Verdict.INCONCLUSIVE
        found["method"] += " " + _("The observation window has not ended yet (it ends %(end)s).") % {
            "end": observed[1].isoformat()
        }
    return found


def compute_check(action: Action, *, now: dt.datetime | None = None, force: bool = False) -> Check | None:
    """Measure `action` (in Check, window and grace period ended) and record the result.

    Idempotent: an action already measured for its current window is left alone unless `force`
    (a member asking for a fresh measurement). Runs under the action's row lock, so two beats or a
    retried task measure it once. A later measurement that changes the computed verdict is kept
    and flagged (`result_changed_at`, `previous_computed_verdict`), never silently replaced.
    """
    now = now or timezone.now()
    with transaction.atomic():
        action = Action.objects.select_for_update().get(pk=action.pk)
        if action.stage != Stage.CHECK:
            raise ValidationError({"stage": _("Only an action in Check is measured.")})
        if not measurable(action):
            raise ValidationError(
                {
                    "target_metric": _(
                        "“%(metric)s” cannot be measured by OpsKaizen: record self-reported values with their source."
                    )
                    % {"metric": action.target_metric or action.target_kind}
                }
            )
        when = schedule(action, now=now)
        if when is None:
            raise ValidationError({"stage": _("The action never entered Do: there is nothing to measure from.")})
        if not when["due"]:
            raise ValidationError(
                {
                    "check_window_days": _(
                        "The observation window and its grace period end %(due)s: the product measures then."
                    )
                    % {"due": when["due_at"].isoformat(timespec="minutes")}
                }
            )
        check = Check.objects.filter(action=action).first()
        already = check and check.evidence == Check.Evidence.COMPUTED and check.data_as_of
        if not force and already and check.data_as_of >= when["due_at"] and check.observed_end == when["window_end"]:
            return check
        found = measure(action, now=now)
        previous = check.computed_verdict if check and check.evidence == Check.Evidence.COMPUTED else ""
        extra = {"evidence": Check.Evidence.COMPUTED, "data_as_of": now, "self_reported_source": ""}
        if previous and previous != found["computed_verdict"]:
            extra.update(previous_computed_verdict=previous, result_changed_at=now)
        return services.record_check(action=action, **found, **extra)


def due_check_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Actions in Check whose window and grace period have ended and that carry no measurement of that window."""
    now = now or timezone.now()
    latest_do = Subquery(
        StageTransition.objects.filter(action_id=OuterRef("pk"), to_stage=Stage.DO)
        .order_by("-at", "-id")
        .values("at")[:1]
    )
    candidates = (
        Action.objects.filter(stage=Stage.CHECK)
        .annotate(do_at=latest_do)
        .exclude(do_at__isnull=True)
        .select_related("check_result")
        .order_by("pk")
    )
    due = []
    for action in candidates:
        if not measurable(action):
            continue
        window_end = action.do_at + dt.timedelta(days=action.check_window_days)
        if window_end + grace(action) > now:
            continue
        check = getattr(action, "check_result", None)
        done = (
            check is not None
            and check.evidence == Check.Evidence.COMPUTED
            and check.observed_end == window_end
            and check.data_as_of is not None
        )
        if not done:
            due.append(action.pk)
    return due


def compute_due_checks(*, now: dt.datetime | None = None) -> list[Check]:
    """Measure every action whose window and grace period have ended (the beat task calls this)."""
    now = now or timezone.now()
    checks = []
    for action in Action.objects.filter(pk__in=due_check_ids(now=now)).order_by("pk"):
        try:
            checks.append(compute_check(action, now=now))
        except ValidationError:
            continue  # moved out of Check meanwhile: nothing to measure
    return [check for check in checks if check is not None]
