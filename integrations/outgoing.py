"""Outgoing webhooks: domain events → one signed JSON POST per subscribed endpoint of the team.

A transactional outbox: the receivers run INSIDE the transaction of the domain write
(the ``*_in_transaction`` signals), so the OutgoingDelivery rows commit or roll back with it.
After the commit a Celery task is queued as a nudge; when the broker is down that publish is
logged and dropped, and the periodic dispatcher (``teams.dispatch_outgoing``) sends the row
later. Sending is at-least-once: every POST carries the event id (X-OpsKaizen-Delivery and the
body's "id"), which receivers de-duplicate on.
"""

import json
import logging
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.dispatch import receiver

from core import tasks
from core.signing import timestamped_signature
from improvement import signals
from integrations.models import OutgoingDelivery, OutgoingWebhook
from rituals import signals as ritual_signals

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-OpsKaizen-Signature"
TIMESTAMP_HEADER = "X-OpsKaizen-Timestamp"


# sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, the scheme every outgoing webhook and the generic hook use.
sign = timestamped_signature


def encode(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def record_event(team_id: int, event: str, data: dict) -> list[int]:
    """Write one delivery per active endpoint of the team that wants `event`, in the caller's transaction.

    The rows are the outbox: they exist if and only if the domain write committed. The Celery
    task queued after the commit only makes the delivery immediate.
    """
    rows = []
    for endpoint in OutgoingWebhook.objects.filter(team_id=team_id, active=True):
        if not endpoint.wants(event):
            continue
        event_id = uuid.uuid4()
        payload = json.loads(encode({"id": str(event_id), "type": event, "data": data}))
        rows.append(OutgoingDelivery(endpoint=endpoint, event=event, event_id=event_id, payload=payload))
    ids = [delivery.pk for delivery in OutgoingDelivery.objects.bulk_create(rows)]
    if ids:
        transaction.on_commit(lambda: nudge(ids))
    return ids


def nudge(ids: list[int]) -> None:
    """Queue the delivery tasks; a broker that cannot be reached leaves them to the dispatcher."""
    for pk in ids:
        if not tasks.enqueue("teams.tasks.deliver_webhook", pk):
            return  # the others would fail the same way; the dispatcher sends them all


@receiver(signals.action_moved_in_transaction, dispatch_uid="integrations.outgoing.action_moved")
def on_action_moved(sender, action, transition, **kwargs):
    record_event(
        action.team_id,
        OutgoingWebhook.Event.ACTION_MOVED,
        {
            "action": {
                "id": action.pk,
                "title": action.title,
                "stage": action.stage,
                "source": action.source,
                "external_id": action.external_id,
                "external_ticket": action.external_ticket,
            },
            "transition": {
                "from_stage": transition.from_stage,
                "to_stage": transition.to_stage,
                "at": transition.at,
                "via": transition.via,
                "note": transition.note,
            },
        },
    )


@receiver(
    ritual_signals.review_session_opened_in_transaction, dispatch_uid="integrations.outgoing.review_session_opened"
)
def on_review_session_opened(sender, session, **kwargs):
    record_event(
        session.team_id,
        OutgoingWebhook.Event.REVIEW_SESSION_OPENED,
        {
            "review_session": {
                "id": session.pk,
                "ritual": session.ritual_id,
                "occurrence": session.occurrence,
                "status": session.status,
            }
        },
    )
