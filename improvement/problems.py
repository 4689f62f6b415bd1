"""Writes on problems that move actions too: merging two problems, and a lead undoing a merge.

A merge moves the source's incidents, its action links and the actions aimed at it to the target,
and keeps the source (resolved, `merged_into` the target) with a ProblemMerge that says what moved,
so an undo puts back exactly that. Every row it changes is saved one by one: each is in the audit log.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from improvement.models import Action, ProblemMerge
from incidents import services as incident_services
from incidents.models import Incident, Problem
from teams.models import Team


def _locked(team: Team, *pks: int) -> dict[int, Problem]:
    return {p.pk: p for p in Problem.objects.select_for_update().filter(team=team, pk__in=pks)}


@transaction.atomic
def merge_problems(*, team: Team, source: Problem, target: Problem, by=None) -> ProblemMerge:
    """Merge `source` into `target` (both of `team`); refused on the `target` field otherwise."""
    if source.team_id != team.pk or target.team_id != team.pk:
        raise ValidationError({"target": _("This belongs to another team.")})
    if source.pk == target.pk:
        raise ValidationError({"target": _("A problem cannot be merged into itself.")})
    locked = _locked(team, source.pk, target.pk)
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id or target.merged_into_id:
        raise ValidationError({"target": _("A problem already merged into another one cannot be merged again.")})

    incident_ids = list(Incident.objects.filter(team=team, problem=source).values_list("pk", flat=True))
    if incident_ids:
        incident_services.attach_incidents(team=team, problem=target, incident_ids=incident_ids)

    linked, shared = [], []
    for action in Action.objects.filter(team=team, problems=source).prefetch_related("problems").order_by("pk"):
        has_target = any(p.pk == target.pk for p in action.problems.all())
        (shared if has_target else linked).append(action.pk)
        action.problems.remove(source)
        if not has_target:
            action.problems.add(target)
    targeted = []
    for action in Action.objects.filter(team=team, target_problem=source).order_by("pk"):
        action.target_problem = target
        action.save(update_fields=["target_problem", "updated_at"])
        targeted.append(action.pk)

    source_status = source.status
    source.merged_into = target
    source.status = Problem.Status.RESOLVED
    source.save(update_fields=["merged_into", "status", "updated_at"])
    return ProblemMerge.objects.create(
        team=team,
        source=source,
        target=target,
        source_status=source_status,
        incident_ids=incident_ids,
        linked_action_ids=linked,
        shared_action_ids=shared,
        targeted_action_ids=targeted,
        merged_by=by,
        merged_at=timezone.now(),
    )


@transaction.atomic
def undo_merge(*, merge: ProblemMerge, by=None) -> ProblemMerge:
    """Put back what a merge moved (what has moved again since stays where it is now)."""
    merge = ProblemMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at:
        raise ValidationError({"merge": _("This merge was already undone.")})
    team = Team.objects.get(pk=merge.team_id)
    locked = _locked(team, merge.source_id, merge.target_id)
    source, target = locked[merge.source_id], locked[merge.target_id]
    if source.merged_into_id != target.pk:
        raise ValidationError({"merge": _("This problem has changed since the merge; it cannot be undone.")})

    back = list(
        Incident.objects.filter(team=team, problem=target, pk__in=merge.incident_ids).values_list("pk", flat=True)
    )
    source.merged_into = None
    source.status = merge.source_status
    source.save(update_fields=["merged_into", "status", "updated_at"])
    if back:
        incident_services.attach_incidents(team=team, problem=source, incident_ids=back)
    for action in Action.objects.filter(team=team, pk__in=merge.linked_action_ids + merge.shared_action_ids):
        action.problems.add(source)
        if action.pk in merge.linked_action_ids:
            action.problems.remove(target)
    for action in Action.objects.filter(team=team, pk__in=merge.targeted_action_ids, target_problem=target):
        action.target_problem = source
        action.save(update_fields=["target_problem", "updated_at"])
    merge.undone_at = timezone.now()
    merge.undone_by = by
    merge.save(update_fields=["undone_at", "undone_by"])
    return merge
