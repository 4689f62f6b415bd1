"""Recurrence: an incident on the target of a standardised action reopens it for a new cycle."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from improvement import services
from improvement.models import Action, Stage
from incidents.models import ContributingFactor, Incident

logger = logging.getLogger(__name__)


def matching_standardised_actions(incident: Incident, *, factors: bool = True):
    """Standardised (done) actions of the incident's team whose target this incident hits.

    `factors=False` leaves out contributing-factor targets: an incident just logged has no
    postmortem yet, so they cannot match (they are checked when a factor is recorded).
    """
    target = Q()
    if incident.service_id:
        target |= Q(target_kind=Action.TargetKind.SERVICE, target_service_id=incident.service_id)
    if incident.problem_id:
        target |= Q(target_kind=Action.TargetKind.PROBLEM, target_problem_id=incident.problem_id)
    if factors:
        categories = ContributingFactor.objects.filter(postmortem__incident=incident).values("category")
        target |= Q(target_kind=Action.TargetKind.FACTOR_CATEGORY, target_factor_category__in=categories)
    if not target:
        return Action.objects.none()
    return Action.objects.filter(
        target,
        team_id=incident.team_id,
        stage=Stage.DONE,
        decision=Action.Decision.STANDARDISE,
        # Only what happened after the action was standardised is a recurrence.
        stage_entered_at__lte=incident.started_at,
    ).order_by("pk")


@transaction.atomic
def record_recurrence(*, incident: Incident, at=None) -> list[Action]:
    """Flag every standardised action whose target `incident` hits, link the incident, open the next cycle.

    Once per incident and action: replaying the same incident changes nothing.
    Returns the new cycles opened (an action that already has a next cycle only gets the link).
    """
    at = at or timezone.now()
    opened = []
    for action in matching_standardised_actions(incident).select_for_update():
        if action.recurrences.filter(pk=incident.pk).exists():
            continue
        action.recurrences.add(incident)
        action.recurred_at = at
        action.save(update_fields=["recurred_at", "updated_at"])
        successor = Action.objects.filter(previous_cycle=action).first()
        if successor is None:
            try:
                with transaction.atomic():  # a savepoint: a refused cycle keeps the flag and the link
                    successor = services.open_next_cycle(action=action, at=at, origin=Action.Origin.RECURRENCE)
            except ValidationError as exc:
                # e.g. the owner has left the team: the flag still puts the action on the next review board.
                logger.warning("Recurrence of action %s: no new cycle opened: %s", action.pk, exc.messages)
                continue
            opened.append(successor)
        if successor.is_open:
            successor.incidents.add(incident)
    return opened
