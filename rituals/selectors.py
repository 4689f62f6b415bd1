"""Reads on review sessions, shaped for the review board."""

from django.db.models import Count, Q, QuerySet

from rituals.models import ReviewDecision, ReviewSession


def discussed_per_section(session: ReviewSession, kinds) -> dict[str, int]:
    """How many agenda items of each kind the board has discussed (decided anything on): one query, counted in SQL."""
    # Item ids are "<kind>:<object id>", so an item's section is the prefix of its id.
    counts = {kind: Count("item_id", distinct=True, filter=Q(item_id__startswith=f"{kind}:")) for kind in kinds}
    return session.decisions.aggregate(**counts) if counts else {}


def decisions_on_items(session: ReviewSession, item_ids) -> QuerySet[ReviewDecision]:
    """The decisions taken on these agenda items, in the order they were taken, with who and which action."""
    return session.decisions.filter(item_id__in=list(item_ids)).select_related("by", "action").order_by("at", "id")
