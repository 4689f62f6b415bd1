"""Recurrence: the problem of a standardised action came back, and a new cycle says why.

- **Exact cause**: one incident after standardisation reopens the action when it is of the action's
  target problem, or when it is the **same alert** as one of the action's incidents: the same
  alerting-source fingerprint (Alertmanager's or Grafana's alert fingerprint or group key, an
  Opsgenie alias), whatever the action's target. An incident without a fingerprint is matched by
  the other rules only.
- **Rate targets** (a service, a contributing-factor category): one incident is not a recurrence.
  The action reopens when the target's rate is back at its baseline: as many incidents in the last
  RATE_HORIZON (counted from standardisation at the earliest) as the baseline rate of its Check
  predicts for the whole horizon (at least one).
Each link records why ("incident #218 on Checkout: same problem, 9 days after standardisation"). A
member may mark a link "not a recurrence" with a reason: it stops counting, and the cycle it opened
is withdrawn if it has not left Plan.
"""

import datetime as dt
import logging
import math

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from improvement import checks, services
from improvement.models import Action, Recurrence, Stage, StageTransition
from incidents.models import ContributingFactor, Incident

logger = logging.getLogger(__name__)
RATE_HORIZON = dt.timedelta(days=90)


def may_hit_a_target(incident: Incident, *, factors: bool = True) -> bool:
    """False when no target can match the incident, whatever the actions: no service, problem or fingerprint.

    `matching_standardised_actions` asks it first (one rule: each attribute named here adds a
    target there); a webhook or API upsert asks it for every incident logged, before building
    any queryset.
    """
    return bool(factors or incident.service_id or incident.problem_id or incident.fingerprint)


def matching_standardised_actions(incident: Incident, *, factors: bool = True):
    """Standardised (done) actions of the incident's team whose target this incident hits.

    `factors=False` leaves out contributing-factor targets: an incident just logged has no
    postmortem yet, so they cannot match (they are checked when a factor is recorded).
    """
    if not may_hit_a_target(incident, factors=factors):
        return Action.objects.none()
    target = Q()
    if incident.service_id:
        target |= Q(target_kind=Action.TargetKind.SERVICE, target_service_id=incident.service_id)
    if incident.problem_id:
        target |= Q(target_kind=Action.TargetKind.PROBLEM, target_problem_id=incident.problem_id)
    if incident.fingerprint:
        target |= Q(pk__in=_actions_with_alert(incident))
    if factors:
        categories = ContributingFactor.objects.filter(postmortem__incident=incident).values("category")
        target |= Q(target_kind=Action.TargetKind.FACTOR_CATEGORY, target_factor_category__in=categories)
    return Action.objects.filter(
        target,
        team_id=incident.team_id,
        stage=Stage.DONE,
        decision=Action.Decision.STANDARDISE,
        # Only what happened after the action was standardised is a recurrence.
        stage_entered_at__lte=incident.started_at,
    ).order_by("pk")


def may_recur(team_id: int, incidents: list[Incident]) -> list[Incident]:
    """Of a batch just logged, the incidents some standardised action may see coming back (one query).

    A prefilter for `matching_standardised_actions(incident, factors=False)`, which `record_recurrence`
    runs on each candidate: it only leaves out incidents that rule cannot match, oldest first. An
    incident with an alert fingerprint stays a candidate (the same alert may have come back).
    """
    targets = Action.objects.filter(
        team_id=team_id, stage=Stage.DONE, decision=Action.Decision.STANDARDISE
    ).values_list("target_kind", "target_service_id", "target_problem_id", "stage_entered_at")
    since: dict[tuple[str, int], dt.datetime] = {}
    earliest = None
    for kind, service_id, problem_id, entered in targets:
        earliest = entered if earliest is None else min(earliest, entered)
        if kind in (Action.TargetKind.SERVICE, Action.TargetKind.PROBLEM):
            key = (kind, service_id if kind == Action.TargetKind.SERVICE else problem_id)
            since[key] = min(entered, since.get(key, entered))
    if earliest is None:
        return []

    def hit(incident: Incident) -> bool:
        if incident.fingerprint and earliest <= incident.started_at:
            return True
        keys = [(Action.TargetKind.SERVICE, incident.service_id), (Action.TargetKind.PROBLEM, incident.problem_id)]
        return any(key in since and since[key] <= incident.started_at for key in keys if key[1])

    return sorted((incident for incident in incidents if hit(incident)), key=lambda i: (i.started_at, i.pk))


def _actions_with_alert(incident: Incident):
    """The ids of the team's actions linked to an earlier incident with the same alert fingerprint (a subquery)."""
    return (
        Action.incidents.through.objects.filter(
            incident__team_id=incident.team_id, incident__fingerprint=incident.fingerprint
        )
        .exclude(incident_id=incident.pk)
        .values("action_id")
    )


def _same_alert(action: Action, incident: Incident) -> bool:
    return bool(incident.fingerprint) and _actions_with_alert(incident).filter(action_id=action.pk).exists()


def _target_incidents(action: Action):
    found = Incident.objects.filter(team_id=action.team_id)
    if action.target_kind == Action.TargetKind.SERVICE:
        return found.filter(service_id=action.target_service_id)
    return found.filter(postmortem__factors__category=action.target_factor_category).distinct()


def why(action: Action, incident: Incident) -> tuple[str, str] | None:
    """(match, reason) when `incident` is a recurrence of `action`, None when it is not (yet)."""
    days = max(0, (incident.started_at - action.stage_entered_at).days)
    where = incident.service.name if incident.service_id else _("no service")
    if action.target_kind == Action.TargetKind.PROBLEM and incident.problem_id == action.target_problem_id:
        return Recurrence.Match.EXACT, _(
            "incident #%(id)s on %(where)s: same problem, %(days)s days after standardisation"
        ) % {"id": incident.pk, "where": where, "days": days}
    if _same_alert(action, incident):
        return Recurrence.Match.EXACT, _(
            "incident #%(id)s on %(where)s: same alert (fingerprint %(fingerprint)s), %(days)s days after "
            "standardisation"
        ) % {"id": incident.pk, "where": where, "fingerprint": incident.fingerprint[:40], "days": days}
    if action.target_kind == Action.TargetKind.PROBLEM:
        return None
    check = getattr(action, "check_result", None)
    window = action.check_window_days or 28
    rate = (check.baseline_count or 0) / window if check and check.baseline_count is not None else 0.0
    expected = max(1, math.ceil(rate * RATE_HORIZON.days))
    since = max(action.stage_entered_at, incident.started_at - RATE_HORIZON)
    # Counted as the Check counts its baseline (one outage logged as several tickets counts once), and
    # without the incidents a member marked "not a recurrence" of this action.
    counted = _target_incidents(action).exclude(
        recurrence_links__action=action, recurrence_links__dismissed_at__isnull=False
    )
    end = incident.started_at + dt.timedelta(microseconds=1)
    seen, _after = checks.clustered_counts(counted, (since, end), (end, end))
    if seen < expected:
        return None
    return Recurrence.Match.RATE, _(
        "incident #%(id)s on %(where)s: %(seen)s incidents in the last %(horizon)s days since standardisation, "
        "back at the baseline rate (%(expected)s per %(horizon)s days), %(days)s days after standardisation"
    ) % {
        "id": incident.pk,
        "where": where,
        "seen": seen,
        "expected": expected,
        "horizon": RATE_HORIZON.days,
        "days": days,
    }


@transaction.atomic
def record_recurrence(*, incident: Incident, at=None) -> list[Action]:
    """Link `incident` to every standardised action it brings back (with why) and open the next cycle.

    Once per incident and action: replaying the same incident changes nothing. Returns the new cycles
    opened (an action that already has an open next cycle only gets the link).
    """
    at = at or timezone.now()
    opened = []
    for action in (
        matching_standardised_actions(incident).select_related("check_result").select_for_update(of=("self",))
    ):
        if Recurrence.objects.filter(action=action, incident=incident).exists():
            continue
        found = why(action, incident)
        if found is None:
            continue
        match, reason = found
        Recurrence.objects.create(action=action, incident=incident, match=match, reason=reason[:300], created_at=at)
        action.recurred_at = at
        action.save(update_fields=["recurred_at", "updated_at"])
        successor = Action.objects.filter(previous_cycle=action).first()
        if successor is not None and successor.stage == Stage.WITHDRAWN:
            # A cycle withdrawn as "not a recurrence" must not block a real one: it keeps its history,
            # but lets go of the link to its predecessor (a next cycle is one-to-one).
            Action.objects.filter(pk=successor.pk).update(previous_cycle=None)
            successor = None
        if successor is None:
            try:
                with transaction.atomic():  # a savepoint: a refused cycle keeps the flag and the link
                    successor = services.open_next_cycle(action=action, at=at, origin=Action.Origin.RECURRENCE)
                    StageTransition.objects.filter(action=successor).update(note=_("Reopened: %s") % reason)
            except ValidationError as exc:
                # e.g. the owner has left the team: the flag still puts the action on the next review board.
                logger.warning("Recurrence of action %s: no new cycle opened: %s", action.pk, exc.messages)
                continue
            opened.append(successor)
        if successor.is_open:
            successor.incidents.add(incident)
    return opened


@transaction.atomic
def dismiss(*, link: Recurrence, by, reason: str) -> Recurrence:
    """Mark a link "not a recurrence": no longer counted; the cycle it opened is withdrawn while still in Plan."""
    link = Recurrence.objects.select_for_update().select_related("action").get(pk=link.pk)
    if link.dismissed_at is not None:
        raise ValidationError({"reason": _("This link is already marked as not a recurrence.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Say why this incident is not a recurrence.")})
    link.dismissed_at, link.dismissed_by, link.dismiss_reason = timezone.now(), by, reason.strip()
    link.save(update_fields=["dismissed_at", "dismissed_by", "dismiss_reason"])
    action = link.action
    still = Recurrence.objects.filter(action=action, dismissed_at__isnull=True).exclude(pk=link.pk)
    if not still.exists():
        Action.objects.filter(pk=action.pk).update(recurred_at=None)
        successor = Action.objects.filter(
            previous_cycle=action, origin=Action.Origin.RECURRENCE, stage=Stage.PLAN
        ).first()
        now = timezone.now()
        # Conditional: a cycle that left Plan meanwhile is not withdrawn.
        moved = successor is not None and Action.objects.filter(pk=successor.pk, stage=Stage.PLAN).update(
            stage=Stage.WITHDRAWN, stage_entered_at=now
        )
        if moved:
            StageTransition.objects.create(
                team=successor.team,
                action=successor,
                from_stage=Stage.PLAN,
                to_stage=Stage.WITHDRAWN,
                at=now,
                by=by,
                note=_("Not a recurrence: %s") % reason.strip(),
            )
    return link
