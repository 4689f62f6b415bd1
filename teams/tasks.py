"""Celery tasks of the teams app: delivering outgoing webhooks."""

import logging
import time
import urllib.error
import urllib.request

from celery import shared_task
from django.utils import timezone

from teams.models import OutgoingDelivery
from teams.outgoing import SIGNATURE_HEADER, TIMESTAMP_HEADER, encode, sign

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = 10


def backoff(attempt: int) -> int:
    """Seconds before the next try: 30 s, 1 min, 2 min, 4 min, 8 min."""
    return 30 * 2 ** (attempt - 1)


@shared_task(bind=True, acks_late=True, max_retries=MAX_ATTEMPTS - 1, ignore_result=True)
def deliver_webhook(self, delivery_id: int) -> str:
    """POST one event to one endpoint; retried with exponential backoff, every attempt logged on the row."""
    delivery = OutgoingDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != OutgoingDelivery.Status.PENDING:
        return "skipped"  # already delivered or given up: a duplicate task changes nothing
    body = encode(delivery.payload)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 - endpoints are http(s) URLs validated by URLField
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "OpsKaizen-Webhooks/1",
            "X-OpsKaizen-Event": delivery.event,
            "X-OpsKaizen-Delivery": str(delivery.event_id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(delivery.endpoint.secret, timestamp, body),
        },
    )
    attempts = delivery.attempts + 1
    status_code, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        error = str(exc)[:1000]
    if status_code is not None and 200 <= status_code < 300:
        OutgoingDelivery.objects.filter(pk=delivery.pk).update(
            status=OutgoingDelivery.Status.DELIVERED,
            attempts=attempts,
            last_status_code=status_code,
            last_error="",
            delivered_at=timezone.now(),
        )
        return "delivered"
    gave_up = attempts >= MAX_ATTEMPTS
    OutgoingDelivery.objects.filter(pk=delivery.pk).update(
        status=OutgoingDelivery.Status.FAILED if gave_up else OutgoingDelivery.Status.PENDING,
        attempts=attempts,
        last_status_code=status_code,
        last_error=error,
    )
    logger.warning("outgoing webhook %s attempt %s failed: %s", delivery.event_id, attempts, error)
    if gave_up:
        return "failed"
    raise self.retry(countdown=backoff(attempts))
