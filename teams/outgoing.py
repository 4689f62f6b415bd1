"""Outgoing webhooks: domain events → one signed JSON POST per subscribed endpoint of the team.

Receivers run after the transaction committed (the signals are sent on commit), create
one OutgoingDelivery row per endpoint and hand its id to a Celery task.
"""

import hashlib
import hmac
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.dispatch import receiver

from improvement import signals
from teams.models import OutgoingDelivery, OutgoingWebhook

SIGNATURE_HEADER = "X-OpsKaizen-Signature"
TIMESTAMP_HEADER = "X-OpsKaizen-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">: the same scheme as the generic incoming format."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def encode(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def enqueue(team_id: int, event: str, data: dict) -> list[int]:
    """Record one delivery per active endpoint of the team that wants `event`, then queue them."""
    from teams.tasks import deliver_webhook

    ids = []
    with transaction.atomic():
        for endpoint in OutgoingWebhook.objects.filter(team_id=team_id, active=True):
            if not endpoint.wants(event):
                continue
            delivery = OutgoingDelivery.objects.create(endpoint=endpoint, event=event, payload={})
            delivery.payload = json.loads(encode({"id": str(delivery.event_id), "type": event, "data": data}))
            delivery.save(update_fields=["payload"])
            ids.append(delivery.pk)
    for pk in ids:
        deliver_webhook.delay(pk)
    return ids


@receiver(signals.action_moved, dispatch_uid="teams.outgoing.action_moved")
def on_action_moved(sender, action, transition, **kwargs):
    enqueue(
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


@receiver(signals.review_session_opened, dispatch_uid="teams.outgoing.review_session_opened")
def on_review_session_opened(sender, session, **kwargs):
    enqueue(
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
