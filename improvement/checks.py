"""The Check of an action: did its target move, measured on evidence rather than opinion.

Windows: the action entered Do at `d` (its latest StageTransition into Do); the baseline is
[d − w, d) and the observed window [d, d + w), w = check_window_days. The beat task measures once
the window and a grace period for late data have ended (improvement.windows).

- A service, problem or contributing-factor target: the target's incidents against the rest of the
  team's over the same windows (stats.count_check: conditional odds ratio, exact one-sided bound,
  one-sided Fisher), falling back to the before/after rate test when the rest has fewer than 10
  incidents in a window. The action's origin incidents are left out; one problem's incidents within
  CLUSTER_SPAN of each other count as one outage.
- A team-wide count (the metrics "incidents", "incidents_sevN", "failed_deployments"): the exact
  before/after rate test (conditional binomial).
- Change failure rate: failed among deployed changes before and after, one-sided Fisher exact test.
- Durations ("time_to_detect" … "lead_time"): one-sided Mann-Whitney U, at least 5 values per window,
  an incident still open counted as the longest.
The tests and their assumptions are in docs/statistics.md. The result is written with
services.record_check; leaving Check confirms it, or is a lead's override (services.move_action).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from improvement import services, stats
from improvement.models import Action, Check, Stage, StageTransition, Verdict
from improvement.windows import COUNT_METRICS, DURATION_METRICS, entered_do_at, grace, measurable, schedule
from incidents.measures.queries import failed_change
from incidents.models import Change, Incident

ALPHA = 0.05
MIN_DURATIONS = 5


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


# Incidents of one problem that start within this span of each other are one outage logged several times.
CLUSTER_SPAN = dt.timedelta(hours=6)


def clustered_counts(queryset, baseline, observed) -> tuple[int, int]:
    """Outages per window: incidents of one problem starting within CLUSTER_SPAN of the previous count once."""
    rows = (
        queryset.filter(started_at__gte=baseline[0], started_at__lt=observed[1])
        .order_by("problem_id", "started_at", "pk")
        .values_list("problem_id", "started_at", "pk")
        .distinct()  # a factor-category target joins the factors: one row per incident
    )
    counts = [0, 0]
    last: dict[int, dt.datetime] = {}
    for problem_id, started, _pk in rows:
        previous = last.get(problem_id) if problem_id is not None else None
        if problem_id is not None:
            last[problem_id] = started
        if (
            previous is not None
            and started - previous <= CLUSTER_SPAN
            and (started < baseline[1]) == (previous < baseline[1])
        ):
            continue  # the same outage, already counted in this window
        counts[0 if started < baseline[1] else 1] += 1
    return counts[0], counts[1]


def origin_incident_ids(action: Action, do_at: dt.datetime) -> list[int]:
    """The incidents that created the action: linked to it and started before Do (left out of the baseline)."""
    return list(action.incidents.filter(started_at__lt=do_at).values_list("pk", flat=True))


def _bound(value: float | None) -> float | None:
    return None if value is None or value in (float("inf"), float("-inf")) else float(value)


def _comparison_measure(action: Action, queryset, label, baseline, observed, do_at) -> dict:
    """Target vs the rest of the team over the same windows (stats.count_check), origin incidents left out."""
    direction = action.target_direction or Action.Direction.DECREASE
    origin = origin_incident_ids(action, do_at)
    target = queryset.exclude(pk__in=origin)
    rest = Incident.objects.filter(team_id=action.team_id).exclude(pk__in=queryset.values("pk")).exclude(pk__in=origin)
    tb, ta = clustered_counts(target, baseline, observed)
    rb, ra = clustered_counts(rest, baseline, observed)
    result = stats.count_check(tb, ta, rb, ra, direction=direction, alpha=ALPHA)
    if result.method == "comparison":
        method = _(
            "Compared with the rest of the team over the same windows (%(rb)s incidents before, %(ra)s after): "
            "conditional maximum-likelihood odds ratio of the 2 × 2 counts (the ratio of rate ratios) = "
            "%(effect)s, one-sided 95 %% bound %(bound)s, one-sided Fisher exact test (%(direction)s), "
            "p = %(p).4g, significance level %(alpha)s."
        )
    else:
        method = _(
            "Before/after only (%(why)s): exact Poisson rate comparison (conditional binomial test): given "
            "n = %(n)s events in the two equal windows, observed ~ Binomial(n, 1/2) if nothing changed; "
            "one-sided (%(direction)s), p = %(p).4g, significance level %(alpha)s."
        )
    bound = result.ci_high if direction == Action.Direction.DECREASE else result.ci_low
    method = method % {
        "rb": rb,
        "ra": ra,
        "effect": "—" if result.estimate is None else f"{result.estimate:.3g}",
        "bound": "∞" if _bound(bound) is None else f"{bound:.3g}",
        "direction": direction,
        "p": result.p_value,
        "alpha": ALPHA,
        "why": _("too few incidents elsewhere in the team to compare with"),
        "n": tb + ta,
    }
    thin = result.comparison.thin if result.method == "comparison" else result.before_after.too_little_data
    if result.verdict == Verdict.INCONCLUSIVE and thin:
        method += " " + _("Too little data: with these counts no outcome could be significant.")
    elif result.verdict == Verdict.NOT_EFFECTIVE:
        method += " " + _("The rate did not move in the target's direction.")
    elif result.verdict == Verdict.INCONCLUSIVE:
        method += " " + _("The rate moved the right way, but not significantly.")
    method += " " + _(
        "Baseline: the %(n)s incident(s) that created the action are left out; incidents of one problem starting "
        "within 6 hours of each other count as one outage."
    ) % {"n": len(origin)}
    return {
        "metric": str(label)[:60],
        "baseline_value": float(tb),
        "observed_value": float(ta),
        "baseline_count": tb,
        "observed_count": ta,
        "comparison_baseline_count": rb,
        "comparison_observed_count": ra,
        "test": result.method,
        "effect": _bound(result.estimate),
        "ci_low": _bound(result.ci_low),
        "ci_high": _bound(result.ci_high),
        "excluded_incidents": len(origin),
        "p_value": result.p_value,
        "method": method,
        "computed_verdict": result.verdict,
    }


def _count_in_windows(queryset, time_field: str, baseline, observed) -> tuple[int, int]:
    def within(window):
        return Q(**{f"{time_field}__gte": window[0], f"{time_field}__lt": window[1]})

    counts = queryset.aggregate(
        baseline=Count("id", filter=within(baseline), distinct=True),
        observed=Count("id", filter=within(observed), distinct=True),
    )
    return counts["baseline"], counts["observed"]


def _count_verdict(baseline_count: int, observed_count: int, direction: str) -> tuple[str, float | None, str]:
    """The before/after verdict of a team-wide count: stats.rate_test decides, this only words it."""
    n = baseline_count + observed_count
    result = stats.rate_test(baseline_count, observed_count, direction=direction, alpha=ALPHA)
    method = _(
        "Exact Poisson rate comparison (conditional binomial test): given n = %(n)s events in the two "
        "equal windows, observed ~ Binomial(n, 1/2) if nothing changed; one-sided (%(direction)s), "
        "p = %(p).4g, significance level %(alpha)s."
    ) % {"n": n, "direction": direction, "p": result.p_value, "alpha": ALPHA}
    return result.verdict, result.p_value, method + _verdict_words(result.verdict, result.too_little_data)


def _verdict_words(verdict: str, too_little_data: bool) -> str:
    if too_little_data:
        return " " + _("Too little data: with these counts no outcome could be significant.")
    if verdict == Verdict.NOT_EFFECTIVE:
        return " " + _("The rate did not move in the target's direction.")
    if verdict == Verdict.INCONCLUSIVE:
        return " " + _("The rate moved the right way, but not significantly.")
    return ""


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
    result = stats.fisher_rate_test(f0, n0, f1, n1, direction=direction, alpha=ALPHA)
    method = _(
        "Change failure rate: %(f0)s failed of %(n0)s deployments before, %(f1)s of %(n1)s after; one-sided "
        "Fisher exact test (%(direction)s), p = %(p).4g, significance level %(alpha)s."
    ) % {"f0": f0, "n0": n0, "f1": f1, "n1": n1, "direction": direction, "p": result.p_value, "alpha": ALPHA}
    method += _verdict_words(result.verdict, result.too_little_data)
    p_value, verdict = result.p_value, result.verdict
    found.update(effect=_bound(result.odds_ratio), ci_low=_bound(result.ci_low), ci_high=_bound(result.ci_high))
    found.update(method=method, p_value=p_value, computed_verdict=verdict, test="fisher")
    return found


def _durations(queryset, later: str, earlier: str, time_field: str, window) -> list[float | None]:
    """Seconds from `earlier` to `later` of each row placed in `window`; None for one still open (no `later`)."""
    rows = queryset.filter(**{f"{time_field}__gte": window[0], f"{time_field}__lt": window[1]}).values_list(
        earlier, later
    )
    return [None if end is None else (end - start).total_seconds() for start, end in rows]


def _duration_measure(action: Action, metric: str, baseline, observed) -> dict:
    """One-sided Mann-Whitney U (stats.duration_test); an incident still open counts as the longest."""
    model, later, earlier, time_field = DURATION_METRICS[metric]
    queryset = model.objects.filter(team_id=action.team_id, **{f"{earlier}__isnull": False})
    before = _durations(queryset, later, earlier, time_field, baseline)
    after = _durations(queryset, later, earlier, time_field, observed)
    direction = action.target_direction or Action.Direction.DECREASE
    result = stats.duration_test(before, after, direction=direction, min_values=MIN_DURATIONS, alpha=ALPHA)
    method = _(
        "One-sided Mann-Whitney U test of %(metric)s in seconds (%(direction)s): %(b)s values before, %(o)s "
        "after, %(open)s still open counted as the longest; %(how)s; U = %(u)s, p = %(p)s, significance level "
        "%(alpha)s."
    ) % {
        "metric": metric,
        "direction": direction,
        "b": len(before),
        "o": len(after),
        "open": sum(value is None for value in before + after),
        "how": _("exact distribution") if result.method == "exact" else _("normal approximation with tie correction"),
        "u": "—" if result.u is None else f"{result.u:g}",
        "p": "—" if result.p_value is None else f"{result.p_value:.4g}",
        "alpha": ALPHA,
    }
    if result.too_little_data:
        method += " " + _("Too little data: at least %(min)s values are needed in each window.") % {
            "min": MIN_DURATIONS
        }
    return {
        "baseline_value": result.before_median,
        "observed_value": result.after_median,
        "baseline_count": len(before),
        "observed_count": len(after),
        "method": method,
        "p_value": result.p_value,
        "computed_verdict": result.verdict,
        "test": "mann_whitney",
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
    target, label = _incident_queryset(action)
    if target is not None:  # a service, problem or factor category: against the rest of the team
        found.update(_comparison_measure(action, target, label, baseline, observed, do_at))
    elif metric in COUNT_METRICS:  # a team-wide count: no comparison group, before/after
        source, filters = COUNT_METRICS[metric]
        model, time_field = (Incident, "started_at") if source == "incidents" else (Change, "deployed_at")
        queryset = model.objects.filter(team_id=action.team_id, **filters)
        if metric == "failed_deployments":
            queryset = queryset.filter(failed_change())
        k0, k1 = _count_in_windows(queryset, time_field, baseline, observed)
        verdict, p_value, method = _count_verdict(k0, k1, direction)
        found.update(
            metric=metric,
            baseline_value=float(k0),
            observed_value=float(k1),
            baseline_count=k0,
            observed_count=k1,
            p_value=p_value,
            method=method,
            computed_verdict=verdict,
            test="before_after",
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


def sizing(action: Action, *, now: dt.datetime | None = None) -> dict | None:
    """In Plan: what the window can show for the test the Check will use, from the baseline rate until now.

    The smallest true change detected with 80 % power at one-sided 5 %, its power against a 50 % change,
    and (before/after test) the window length a 50 % change needs. None for a target it cannot size.
    """
    now = now or timezone.now()
    days = action.check_window_days
    window = (now - dt.timedelta(days=days), now)
    direction = action.target_direction or Action.Direction.DECREASE
    target, _label = _incident_queryset(action)
    measured = Check.objects.filter(action=action, evidence=Check.Evidence.COMPUTED).first() if action.pk else None
    if target is not None and measured is not None and measured.baseline_count is not None:
        # Measured and inconclusive: size the next window from the Check's own baseline (its own length:
        # an extension since then has changed check_window_days, not the window that was counted).
        tb, rb = measured.baseline_count, measured.comparison_baseline_count or 0
        if measured.baseline_start and measured.baseline_end:
            days = max(1, (measured.baseline_end - measured.baseline_start).days)
        if rb < stats.MIN_REST:
            target = None
        else:
            found = stats.comparison_sizing(tb, rb, baseline_days=days, window_days=days, direction=direction)
            return {
                "test": "comparison",
                "baseline_count": tb,
                "rest_count": rb,
                "days": days,
                "power": found.power,
                "detectable_change": found.detectable_change,
                "days_needed": None,
                "reason": found.reason,
            }
    elif target is not None:
        linked = action.incidents.values("pk") if action.pk else Incident.objects.none()
        tb, _after = clustered_counts(target.exclude(pk__in=linked), window, (now, now))
        rest = Incident.objects.filter(team_id=action.team_id).exclude(pk__in=target.values("pk"))
        rb, _after = clustered_counts(rest.exclude(pk__in=linked), window, (now, now))
        if rb >= stats.MIN_REST:
            found = stats.comparison_sizing(tb, rb, baseline_days=days, window_days=days, direction=direction)
            return {
                "test": "comparison",
                "baseline_count": tb,
                "rest_count": rb,
                "days": days,
                "power": found.power,
                "detectable_change": found.detectable_change,
                "days_needed": None,
                "reason": found.reason,
            }
    elif action.target_kind == Action.TargetKind.METRIC and action.target_metric in COUNT_METRICS:
        source, filters = COUNT_METRICS[action.target_metric]
        model, field = (Incident, "started_at") if source == "incidents" else (Change, "deployed_at")
        queryset = model.objects.filter(team_id=action.team_id, **filters)
        if action.target_metric == "failed_deployments":
            queryset = queryset.filter(failed_change())
        tb = queryset.filter(**{f"{field}__gte": window[0], f"{field}__lt": window[1]}).count()
        rb = None
    else:
        return None
    found = stats.count_sizing(tb, baseline_days=days, window_days=days, direction=direction)
    return {
        "test": "before_after",
        "baseline_count": tb,
        "rest_count": rb,
        "days": days,
        "power": found.power,
        "detectable_change": found.detectable_change,
        "days_needed": found.days_needed,
        "reason": found.reason,
    }


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
