"""Outgoing webhooks survive a Redis outage and a worker killed mid-POST (fault tests).

Real services only: the test database on PostgreSQL (transactional tests, so the worker
subprocess sees committed rows), a throwaway redis-server on port 6390 as the Celery broker
(stopped and restarted by the test; the shared Redis on 6379 is never touched), real
`celery worker` subprocesses, and a local HTTP receiver on 127.0.0.1.
"""

import hashlib
import hmac
import json
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from improvement.models import StageTransition
from integrations.models import OutgoingDelivery
from integrations.services import create_outgoing_webhook
from integrations.tasks import dispatch_outgoing
from teams.models import ApiToken
from teams.services import create_api_token
from tests import factories
from tests.faults.support import Receiver, wait_until

# The receiver listens on 127.0.0.1: this process (saving the URL) and the workers (sending to it)
# opt in to private networks, the workers through their environment like a real deployment.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("allow_private_networks"),
]


def api_client(team) -> APIClient:
    holder = factories.MembershipFactory(team=team, role="lead").user  # a token acts with its holder's rights
    _token, key = create_api_token(team=team, name="fault test", scope=ApiToken.Scope.READ_WRITE, by=holder)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def assert_signed(headers: dict, body: bytes, secret: str) -> None:
    expected = hmac.new(secret.encode(), headers["x-opskaizen-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["x-opskaizen-signature"], f"sha256={expected.hexdigest()}")


def test_redis_down_writes_succeed_and_their_webhooks_go_out_once_when_it_returns(team, broker, workers):
    actions = factories.ActionFactory.create_batch(3, team=team)
    client = api_client(team)
    with Receiver() as receiver:
        endpoint = create_outgoing_webhook(team=team, url=receiver.url)

        broker.stop()  # the outage
        assert broker.down()
        for action in actions:
            started = time.monotonic()
            response = client.post(f"/api/v1/actions/{action.pk}/transition/", {"to_stage": "do"}, format="json")
            assert response.status_code == 200, response.content
            assert response.json()["stage"] == "do"
            assert time.monotonic() - started < 10  # the dead broker costs a short publish retry, no hang
        # The writes and their outbox rows committed together; nothing was sent yet.
        assert StageTransition.objects.filter(action__in=actions, to_stage="do").count() == 3
        pending = OutgoingDelivery.objects.filter(endpoint=endpoint)
        assert sorted(pending.values_list("status", "attempts")) == [("pending", 0)] * 3
        assert receiver.requests == []

        broker.start()  # Redis is back (empty: the nudges were never queued)
        worker = workers("outbox")
        task_id = dispatch_outgoing.apply_async().id  # what beat does every minute
        worker.wait_for(rf"Task teams\.dispatch_outgoing\[{task_id}\] succeeded")
        wait_until(lambda: len(receiver.requests) >= 3, what="three webhooks received")

        # A second dispatcher run finds nothing left to send.
        again = dispatch_outgoing.apply_async().id
        worker.wait_for(rf"Task teams\.dispatch_outgoing\[{again}\] succeeded")

    assert len(receiver.requests) == 3  # exactly once each
    sent = {}
    for headers, body in receiver.requests:
        assert_signed(headers, body, endpoint.secret)
        payload = json.loads(body)
        assert payload["type"] == "action.moved" and payload["data"]["transition"]["to_stage"] == "do"
        assert headers["x-opskaizen-delivery"] == payload["id"]
        sent[payload["data"]["action"]["id"]] = payload["id"]
    assert sent.keys() == {a.pk for a in actions}
    rows = {str(d.event_id): d for d in OutgoingDelivery.objects.filter(endpoint=endpoint)}
    assert set(sent.values()) == rows.keys()
    assert {(d.status, d.attempts, d.last_status_code) for d in rows.values()} == {("delivered", 1, 200)}


def test_worker_killed_mid_post_the_event_is_delivered_again_with_the_same_event_id(team, broker, workers):
    action = factories.ActionFactory(team=team)
    client = api_client(team)
    # A sender's claim on a row lasts 3 s here (production: 2 minutes), its POST times out after 2 s.
    lease = {"OPSKAIZEN_WEBHOOK_TIMEOUT": "2", "OPSKAIZEN_WEBHOOK_LEASE_SECONDS": "3"}
    with Receiver(hold_first=30) as receiver:
        endpoint = create_outgoing_webhook(team=team, url=receiver.url)
        doomed = workers("doomed", **lease)
        response = client.post(f"/api/v1/actions/{action.pk}/transition/", {"to_stage": "do"}, format="json")
        assert response.status_code == 200, response.content
        doomed.wait_for(r"Task teams\.tasks\.deliver_webhook\[[^\]]+\] received")
        wait_until(lambda: len(receiver.requests) == 1, what="the first POST arriving")
        doomed.kill()  # SIGKILL the worker while the receiver still holds its POST open
        delivery = OutgoingDelivery.objects.get(endpoint=endpoint)
        assert (delivery.status, delivery.attempts) == ("pending", 1)  # claimed, attempt counted, no outcome

        restarted = workers("restarted", **lease)
        # Once the dead sender's claim expired, the dispatcher (or the redelivered nudge) sends it again.
        wait_until(
            lambda: (
                OutgoingDelivery.objects.filter(pk=delivery.pk, claimed_until__lt=timezone.now()).exists()
                or OutgoingDelivery.objects.filter(pk=delivery.pk, status="delivered").exists()
            ),
            what="the dead sender's claim expiring",
        )
        task_id = dispatch_outgoing.apply_async().id
        restarted.wait_for(rf"Task teams\.dispatch_outgoing\[{task_id}\] succeeded", timeout=30)
        wait_until(lambda: OutgoingDelivery.objects.get(pk=delivery.pk).status == "delivered", what="delivered at last")
        time.sleep(1)  # room for a stray duplicate to show up

    # At-least-once: the receiver saw the event twice (the killed attempt and the re-send), both
    # with the same event id, which is what receivers de-duplicate on. Our log: one success.
    assert len(receiver.requests) == 2
    event_ids = {headers["x-opskaizen-delivery"] for headers, _body in receiver.requests}
    assert event_ids == {str(delivery.event_id)}
    assert {json.loads(body)["id"] for _headers, body in receiver.requests} == event_ids
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert OutgoingDelivery.objects.filter(endpoint=endpoint).count() == 1
