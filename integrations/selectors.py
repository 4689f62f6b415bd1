"""Reads on integrations and their delivery log."""

import datetime as dt

from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from integrations.models import Integration, WebhookDelivery
from teams.models import Team


def deliveries_for_integration(integration: Integration) -> QuerySet[WebhookDelivery]:
    """The integration's deliveries for its log, newest first, with a body excerpt instead of the body.

    The raw body can be megabytes of vendor JSON: the page reads its first characters only (one more
    than it shows, so that `truncatechars:BODY_EXCERPT_CHARS` marks a cut).
    """
    return (
        WebhookDelivery.objects.filter(integration=integration)
        .defer("body", "headers")
        .annotate(body_excerpt=Substr("body", 1, BODY_EXCERPT_CHARS + 1))
        .order_by("-received_at", "-id")
    )


def delivery_counts_by_integration(team: Team) -> dict[int, dict]:
    """{integration id: {"queued", "failed" (in RECENT_FAILURES), "oldest_queued"}} in one query."""
    queued, failed = Q(outcome=WebhookDelivery.Outcome.QUEUED), Q(outcome=WebhookDelivery.Outcome.FAILED)
    rows = (
        WebhookDelivery.objects.filter(team=team)
        .filter(queued | (failed & Q(received_at__gte=timezone.now() - RECENT_FAILURES)))
        .values("integration_id")
        .annotate(
            queued=Count("id", filter=queued),
            failed=Count("id", filter=failed),
            oldest_queued=Min("received_at", filter=queued),
        )
        .order_by()
    )
    return {row.pop("integration_id"): row for row in rows}


# How far back the integrations page counts failed deliveries: recent failures are news, a failure
# of last quarter that nobody re-applied is history (the delivery log still lists it).
RECENT_FAILURES = dt.timedelta(days=7)


BODY_EXCERPT_CHARS = 2000


PREVIEW_DELIVERIES = 20


def deliveries_to_try(integration: Integration) -> list[WebhookDelivery]:
    """The integration's latest stored deliveries (with a body) a mapping can be tried on, in one query."""
    return list(
        WebhookDelivery.objects.filter(integration=integration)
        .exclude(body="")
        .exclude(outcome=WebhookDelivery.Outcome.DUPLICATE)
        .only("pk", "event", "received_at")
        .order_by("-received_at", "-id")[:PREVIEW_DELIVERIES]
    )
