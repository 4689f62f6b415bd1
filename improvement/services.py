"""Writes on improvement actions: the PDCA stage rules live here and only here.

The web UI, the API, webhooks, the review board and the seed all move an
action through `move_action`, so a rule is checked the same way everywhere.
A refused move raises a ValidationError naming the fields at fault and writes
nothing (everything runs in one transaction, checks before writes).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.text import one_line
from improvement import signals, windows
from improvement.models import MAX_WINDOW_DAYS, Action, Check, Stage, StageTransition, Verdict
from teams.models import Membership, Team
from teams.selectors import has_role
from teams.services import ensure_same_team

# Which stage may follow which. Backward moves (re-plan, observe longer) need a note.
MOVES = {
    Stage.PLAN: {Stage.DO, Stage.ABANDONED},
    Stage.DO: {Stage.CHECK, Stage.PLAN, Stage.ABANDONED},
    Stage.CHECK: {Stage.ACT, Stage.DO, Stage.ABANDONED},
    Stage.ACT: {Stage.DONE, Stage.ABANDONED},
    Stage.DONE: set(),
    Stage.ABANDONED: set(),
    Stage.WITHDRAWN: set(),
}
BACKWARD = {(Stage.DO, Stage.PLAN), (Stage.CHECK, Stage.DO)}

# What create_action / update_action write: the API's serializer and the action form take theirs from here.
ACTION_FIELDS = (
    "title",
    "problem_statement",
    "hypothesis",
    "kind",
    "origin",
    "owner",
    "due_date",
    "target_kind",
    "target_service",
    "target_problem",
    "target_factor_category",
    "target_metric",
    "target_direction",
    "check_window_days",
    "external_ticket",
    "source",
    "external_id",
)
# The target is what the Check measures: it is fixed once the action leaves Plan.
PLAN_ONLY_FIELDS = {
    "target_kind",
    "target_service",
    "target_problem",
    "target_factor_category",
    "target_metric",
    "target_direction",
    "check_window_days",
}
TARGET_FIELD = {
    Action.TargetKind.SERVICE: "target_service",
    Action.TargetKind.PROBLEM: "target_problem",
    Action.TargetKind.FACTOR_CATEGORY: "target_factor_category",
    Action.TargetKind.METRIC: "target_metric",
}
LINKS = ("incidents", "postmortems", "problems", "changes")


def _validate_fields(team: Team, action: Action) -> None:
    ensure_same_team(team, target_service=action.target_service, target_problem=action.target_problem)
    if action.owner_id and not (
        action.owner.is_superuser
        or Membership.objects.filter(
            team=team, user_id=action.owner_id, role__in=[Membership.Role.MEMBER, Membership.Role.LEAD]
        ).exists()
    ):
        raise ValidationError({"owner": _("The owner must be a member or lead of the team.")})
    action.full_clean(exclude=["stage_entered_at"])


def _set_links(action: Action, links: dict) -> None:
    for name, objects in links.items():
        if name not in LINKS:
            raise ValidationError({name: _("Unknown link.")})
        ensure_same_team(action.team, **{f"{name}[{i}]": obj for i, obj in enumerate(objects)})
        getattr(action, name).set(objects)


@transaction.atomic
def create_action(*, team: Team, by=None, at=None, links: dict | None = None, **fields) -> Action:
    """Open a new PDCA cycle in Plan, with its first StageTransition row."""
    unknown = set(fields) - set(ACTION_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    at = at or timezone.now()
    if "title" in fields:
        fields["title"] = one_line(fields["title"])
    action = Action(team=team, created_by=by, stage=Stage.PLAN, stage_entered_at=at, **fields)
    _validate_fields(team, action)
    action.save()
    _set_links(action, links or {})
    StageTransition.objects.create(team=team, action=action, from_stage="", to_stage=Stage.PLAN, at=at, by=by)
    return action


@transaction.atomic
def update_action(*, action: Action, links: dict | None = None, **fields) -> Action:
    """Edit an action; the target and observation window can change only in Plan."""
    action = Action.objects.select_for_update().get(pk=action.pk)
    unknown = set(fields) - set(ACTION_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    if not action.is_open:
        raise ValidationError({"stage": _("A finished action can no longer be edited.")})
    frozen = {
        name: _("The target is fixed once the action has left Plan.")
        for name in PLAN_ONLY_FIELDS & set(fields)
        if action.stage != Stage.PLAN and getattr(action, name) != fields[name]
    }
    if frozen:
        raise ValidationError(frozen)
    if "title" in fields:
        fields["title"] = one_line(fields["title"])
    for name, value in fields.items():
        setattr(action, name, value)
    _validate_fields(action.team, action)
    action.save()
    _set_links(action, links or {})
    return action


def plan_gaps(action: Action) -> dict[str, str]:
    """What is still missing before the action may leave Plan (empty when ready)."""
    gaps = {}
    if not action.problem_statement.strip():
        gaps["problem_statement"] = _("State the problem this action addresses.")
    if not action.hypothesis.strip():
        gaps["hypothesis"] = _("Write the hypothesis: what you expect to change, and why.")
    if not action.owner_id:
        gaps["owner"] = _("Name an owner.")
    if not action.due_date:
        gaps["due_date"] = _("Set a due date.")
    if not action.target_kind:
        gaps["target_kind"] = _("Choose a target: the incidents to prevent or the metric to move.")
    else:
        field = TARGET_FIELD[action.target_kind]
        if not getattr(action, field if field.endswith(("category", "metric")) else f"{field}_id"):
            gaps[field] = _("Say which one.")
    if not action.target_direction:
        gaps["target_direction"] = _("Say in which direction the target should move.")
    return gaps


def _check_gaps(action: Action, check: Check | None) -> dict[str, str]:
    gaps = {}
    if check is None or check.baseline_value is None:
        gaps["baseline_value"] = _("Measure the baseline before leaving Check.")
    if check is None or check.observed_value is None:
        gaps["observed_value"] = _("Measure the observed value before leaving Check.")
    if check is None or not check.verdict:
        gaps["verdict"] = _("Give the verdict: effective, not effective or inconclusive.")
    return gaps


def _leaving_check(action: Action, check: Check | None, *, by, verdict: str, note: str, at, errors: dict):
    """The Check a move out of Check leaves behind, and whether it is a lead's override.

    Measured (by the product once the window and grace period ended, or self-reported for a target
    kept elsewhere): the verdict is confirmed. Leaving earlier, or with another verdict, is an
    override: a lead only, with a written reason; it is recorded and never counted as verified.
    """

    if verdict and verdict not in Verdict.values:
        errors["verdict"] = _("Unknown verdict “%(verdict)s”.") % {"verdict": verdict}
        return check, False
    check = check or Check(team=action.team, action=action)
    measured = bool(check.computed_verdict) and check.evidence == Check.Evidence.COMPUTED
    when = windows.schedule(action, now=at)
    if measured and when and check.observed_end != when["window_end"]:
        measured = False  # measured for a window that was since extended
    reported = check.evidence == Check.Evidence.SELF_REPORTED and check.verdict
    if reported and not (verdict and verdict != check.verdict):
        return check, False
    if measured and (not verdict or verdict == check.computed_verdict):
        check.verdict = check.computed_verdict
        check.overridden = False
        return check, False
    # An override: early, unmeasured, or against the computed verdict.
    if by is None or not has_role(by, action.team, Membership.Role.LEAD):
        if measured:
            errors["verdict"] = _("Only a lead may override the measured verdict, with a reason.")
        elif when and not when["due"]:
            errors["stage"] = _(
                "The product measures this Check when its window and grace period end (%(due)s); leaving earlier "
                "is a lead's override, with a reason."
            ) % {"due": when["due_at"].strftime("%Y-%m-%d %H:%M")}
        else:
            errors["stage"] = _(
                "This Check has no measurement yet; leaving it now is a lead's override, with a reason."
            )
        return check, False
    if not verdict:
        errors["verdict"] = _("Give the verdict you decide on: it overrides the measurement.")
    if not note.strip():
        errors["note"] = _("Say why you override the measurement.")
    check.verdict = verdict
    check.overridden = True
    return check, True


@transaction.atomic
def move_action(
    *,
    action: Action,
    to_stage: str,
    by=None,
    note: str = "",
    from_stage: str | None = None,
    decision: str = "",
    reason: str = "",
    verdict: str = "",
    baseline_value: float | None = None,
    observed_value: float | None = None,
    via: str = "ui",
    at=None,
) -> Action:
    """Move `action` to `to_stage` if the PDCA rules allow it, recording a StageTransition.

    Leaving Plan needs a complete plan; leaving Do needs evidence the change was
    made (a ticket, a linked change or a note); leaving Check needs baseline,
    observed and a verdict (a computed verdict may be confirmed, or overridden
    with a note); leaving Act is a decision: standardise (only if effective),
    adjust (opens the next cycle, linked) or abandon (with a reason).
    """
    at = at or timezone.now()
    action = Action.objects.select_for_update().get(pk=action.pk)
    current = action.stage
    if from_stage is not None and from_stage != current:
        message = _("The action is in %(current)s now, not %(expected)s: reload and try again.") % {
            "current": Stage(current).label,
            "expected": Stage(from_stage).label if from_stage in Stage.values else from_stage,
        }
        raise ValidationError({"stage": ValidationError(message, code="conflict")})
    if to_stage not in Stage.values:
        raise ValidationError({"to_stage": _("Unknown stage “%(stage)s”.") % {"stage": to_stage}})
    if to_stage not in MOVES[current]:
        message = _("An action cannot move from %(current)s to %(target)s.") % {
            "current": Stage(current).label,
            "target": Stage(to_stage).label,
        }
        raise ValidationError({"to_stage": ValidationError(message, code="illegal_move")})
    last = action.transitions.order_by("-at", "-id").values_list("at", flat=True).first()
    if last and at < last:
        raise ValidationError({"at": _("A move cannot be dated before the previous one.")})

    errors: dict[str, str] = {}
    check = Check.objects.filter(action=action).first()
    if (current, to_stage) in BACKWARD and not note.strip():
        errors["note"] = _("Say why the action goes back.")
    if to_stage == Stage.ABANDONED:
        reason = reason or note
        if not reason.strip():
            errors["reason"] = _("Say why the action is abandoned.")
        decision = Action.Decision.ABANDON
    elif current == Stage.PLAN:
        errors.update(plan_gaps(action))
    elif current == Stage.DO and to_stage == Stage.CHECK:
        if not (action.external_ticket or action.changes.exists() or note.strip()):
            errors["note"] = _("Show the change was made: link a ticket or a change, or describe what was done.")
    elif current == Stage.CHECK and to_stage == Stage.ACT:
        check, override = _leaving_check(action, check, by=by, verdict=verdict, note=note, at=at, errors=errors)
        if baseline_value is not None or observed_value is not None:
            errors["baseline_value"] = _(
                "Baseline and observed values are measured by OpsKaizen (or self-reported with their source on "
                "the Check), not typed when leaving Check."
            )
    elif current == Stage.ACT and to_stage == Stage.DONE:
        if decision not in (Action.Decision.STANDARDISE, Action.Decision.ADJUST):
            errors["decision"] = _("Decide: standardise, adjust (another cycle) or abandon.")
        elif decision == Action.Decision.STANDARDISE and (check is None or check.verdict != Verdict.EFFECTIVE):
            errors["decision"] = _("Only an action verified effective can be standardised: adjust or abandon it.")
    if errors:
        raise ValidationError(errors)

    if current == Stage.CHECK and to_stage == Stage.ACT:
        if override:
            check.note = note
            check.overridden_at = at
        check.decided_by = by
        check.save()
    action.stage = to_stage
    action.stage_entered_at = at
    if to_stage in (Stage.DONE, Stage.ABANDONED):
        action.decision = decision
        action.abandon_reason = reason if to_stage == Stage.ABANDONED else ""
    action.save(update_fields=["stage", "stage_entered_at", "decision", "abandon_reason", "updated_at"])
    transition = StageTransition.objects.create(
        team=action.team,
        action=action,
        from_stage=current,
        to_stage=to_stage,
        at=at,
        by=by,
        note=note or reason,
        via=via,
    )
    if decision == Action.Decision.ADJUST:
        open_next_cycle(action=action, by=by, at=at, origin=action.origin)
    signals.action_moved_in_transaction.send(sender=Action, action=action, transition=transition)
    transaction.on_commit(lambda: signals.action_moved.send(sender=Action, action=action, transition=transition))
    return action


def open_next_cycle(*, action: Action, by=None, at=None, origin: str = "") -> Action:
    """Start the next PDCA cycle of `action`: a new action in Plan, linked to this one."""
    at = at or timezone.now()
    fields = {
        name: getattr(action, name) for name in ACTION_FIELDS if name not in {"source", "external_id", "due_date"}
    }
    fields["origin"] = origin or action.origin
    nxt = create_action(team=action.team, by=by, at=at, **fields)
    nxt.previous_cycle = action
    nxt.cycle = action.cycle + 1
    nxt.save(update_fields=["previous_cycle", "cycle"])
    _set_links(nxt, {name: list(getattr(action, name).all()) for name in LINKS})
    return nxt


@transaction.atomic
def record_check(
    *,
    action: Action,
    baseline_value: float,
    observed_value: float,
    verdict: str = "",
    note: str = "",
    by=None,
    **measured,
) -> Check:
    """Record a measurement of an action in Check: computed by improvement.checks, or self-reported.

    Self-reported values (a target kept outside OpsKaizen) need their source; a target the product
    measures cannot be self-reported.
    """

    action = Action.objects.select_for_update().get(pk=action.pk)
    if action.stage != Stage.CHECK:
        raise ValidationError({"stage": _("An action is measured while it is in Check.")})
    if measured.get("evidence") != Check.Evidence.COMPUTED:
        if windows.measurable(action):
            raise ValidationError(
                {"baseline_value": _("OpsKaizen measures this target itself when the window ends: it is not typed.")}
            )
        source = (measured.get("self_reported_source") or "").strip()
        if not source:
            raise ValidationError({"self_reported_source": _("Say where these values come from.")})
        measured.update(evidence=Check.Evidence.SELF_REPORTED, self_reported_source=source, data_as_of=timezone.now())
    check, _created = Check.objects.get_or_create(action=action, defaults={"team": action.team})
    check.baseline_value = baseline_value
    check.observed_value = observed_value
    for name, value in measured.items():
        setattr(check, name, value)
    if verdict:
        check.verdict = verdict
    if note:
        check.note = note
    check.measured_at = timezone.now()
    check.full_clean()
    check.save()
    return check


# --- Upsert by external reference, and rituals (API) -----------------------------


@transaction.atomic
def upsert_action_by_ref(
    *, team: Team, source: str, external_id: str, by=None, links: dict | None = None, **fields
) -> tuple[Action, bool]:
    """Create or update the action known to `source` as `external_id` (never its stage); returns (action, created)."""
    from django.db import IntegrityError

    if not source or not external_id:
        raise ValidationError({"external_id": _("A source and an external id are needed.")})
    fields = {k: v for k, v in fields.items() if k not in ("source", "external_id")}
    existing = Action.objects.filter(team=team, source=source, external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                action = create_action(team=team, by=by, links=links, source=source, external_id=external_id, **fields)
                return action, True
        except IntegrityError:
            existing = Action.objects.get(team=team, source=source, external_id=external_id)
    if not fields and not links:
        return existing, False
    return update_action(action=existing, links=links, **fields), False


@transaction.atomic
def extend_check_window(*, action: Action, days: int, by=None, reason: str = "") -> Action:
    """Observe an inconclusive action longer: it stays in Check and is measured again when the new window ends."""
    action = Action.objects.select_for_update().get(pk=action.pk)
    if action.stage != Stage.CHECK:
        raise ValidationError({"stage": _("Only an action in Check can be observed longer.")})
    check = Check.objects.filter(action=action).first()
    if check is None or check.evidence != Check.Evidence.COMPUTED or check.computed_verdict != Verdict.INCONCLUSIVE:
        raise ValidationError({"days": _("Extend the window of a Check the product measured as inconclusive.")})
    if not isinstance(days, int) or days < 1:
        raise ValidationError({"days": _("Extend by at least one day.")})
    if action.check_window_days + days > MAX_WINDOW_DAYS:
        raise ValidationError(
            {
                "days": _("The window may not exceed %(max)s days in all (it is %(now)s days).")
                % {"max": MAX_WINDOW_DAYS, "now": action.check_window_days}
            }
        )
    check.extensions = [
        *check.extensions,
        {
            "at": timezone.now().isoformat(),
            "by": by.get_username() if by else "",
            "from_days": action.check_window_days,
            "to_days": action.check_window_days + days,
            "reason": reason,
        },
    ]
    check.save(update_fields=["extensions"])
    Action.objects.filter(pk=action.pk).update(check_window_days=action.check_window_days + days)
    action.refresh_from_db()
    return action
