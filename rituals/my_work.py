"""Reads for "my work": one person's open actions, postmortems and next review in one team."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from improvement.models import OPEN_STAGES, Action
from incidents.models import Postmortem
from rituals.models import ReviewSession, Ritual


def my_open_actions(team, user) -> QuerySet[Action]:
    """The open actions `user` owns, overdue first, then by due date."""
    return (
        Action.objects.filter(team=team, owner=user, stage__in=OPEN_STAGES)
        .select_related("target_service", "target_problem")
        .order_by("due_date", "id")
    )


def my_postmortems(team, user) -> QuerySet[Postmortem]:
    """Unpublished postmortems `user` writes, and those in review that someone else wrote (for `user` to review)."""
    writing = Q(author=user, status__in=[Postmortem.Status.DRAFT, Postmortem.Status.IN_REVIEW])
    reviewing = Q(status=Postmortem.Status.IN_REVIEW) & ~Q(author=user)
    return (
        Postmortem.objects.filter(writing | reviewing, team=team)
        .select_related("incident", "author")
        .order_by("status", "-created_at", "-id")
    )


def my_next_review(team, user) -> dict:
    """The review session open now in a ritual `user` attends, and the next occurrence of one."""
    attended = Ritual.objects.filter(team=team, attendees=user, active=True)
    open_session = (
        ReviewSession.objects.filter(team=team, status=ReviewSession.Status.OPEN, ritual__in=attended)
        .select_related("ritual")
        .order_by("occurrence", "id")
        .first()
    )
    upcoming = attended.filter(next_occurrence__gte=timezone.now()).order_by("next_occurrence", "id").first()
    return {"open_session": open_session, "next_ritual": upcoming}
