"""Reads on review sessions, shaped for the review board."""

from django.db.models import QuerySet

from rituals.models import ReviewDecision, ReviewSession


def decided_item_ids(session: ReviewSession) -> set[str]:
    """The agenda items the board has discussed (decided anything on): one query, whatever the agenda's size."""
    return set(session.decisions.exclude(item_id="").values_list("item_id", flat=True).distinct())


def decisions_on_items(session: ReviewSession, item_ids) -> QuerySet[ReviewDecision]:
    """The decisions taken on these agenda items, in the order they were taken, with who and which action."""
    return session.decisions.filter(item_id__in=list(item_ids)).select_related("by", "action").order_by("at", "id")
