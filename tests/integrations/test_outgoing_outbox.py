"""The outgoing-webhook outbox: rows commit with the write, a dead broker loses nothing, senders never overlap."""

import datetime as dt
import json
import threading

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from improvement.services import move_action
from integrations import tasks
from integrations.models import OutgoingDelivery
from integrations.services import create_outgoing_webhook
from tests import factories
from tests.integrations.test_outgoing_webhooks import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs.get("args"))
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", refuse)
    return calls


def test_the_outbox_row_is_written_in_the_transaction_of_the_move(team, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    create_outgoing_webhook(team=team, url="https://hooks.example.com/okz")
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        move_action(action=action, to_stage="do")
        # Before the commit, inside the same transaction: the row is already there.
        delivery = OutgoingDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.payload["id"] == str(delivery.event_id)
    assert delivery.payload["data"]["transition"]["to_stage"] == "do"
    assert len(callbacks) == 2  # the nudge and the after-commit signal, both only after the commit


def test_a_write_rolled_back_after_the_move_leaves_no_event(team, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    create_outgoing_webhook(team=team, url="https://hooks.example.com/okz")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        move_action(action=action, to_stage="do")
        raise RuntimeError("a later step of the same request failed")
    assert not OutgoingDelivery.objects.exists()
    assert callbacks == []


def test_broker_down_the_move_succeeds_and_the_dispatcher_sends_the_event(
    team, broker_down, caplog, django_capture_on_commit_callbacks, allow_private_networks
):
    action = factories.ActionFactory(team=team)
    with Receiver() as receiver:
        create_outgoing_webhook(team=team, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            move_action(action=action, to_stage="do")  # does not raise
        assert len(broker_down) == 1
        assert "teams.tasks.deliver_webhook" in caplog.text and "not queued" in caplog.text
        delivery = OutgoingDelivery.objects.get()
        assert (delivery.status, delivery.attempts) == ("pending", 0)

        assert tasks.dispatch_pending() == {"delivered": 1}
        assert tasks.dispatch_pending() == {}  # nothing left
    assert [json.loads(body)["id"] for _headers, body in receiver.requests] == [str(delivery.event_id)]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_until) == ("delivered", 1, None)


def test_a_claimed_row_cannot_be_claimed_again_until_its_lease_expires(team, broker_down):
    endpoint = create_outgoing_webhook(team=team, url="https://hooks.example.com/okz")
    delivery = OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved")
    assert tasks.claim(delivery.pk) is not None
    assert tasks.claim(delivery.pk) is None  # held by a live sender
    assert tasks.dispatch_pending() == {}
    # The sender died mid-POST: once its lease is over, the row is taken over, the attempt counted.
    OutgoingDelivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    taken = tasks.claim(delivery.pk)
    assert taken is not None and taken.attempts == 2


def test_the_dispatcher_leaves_rows_in_backoff_and_finished_rows_alone(team):
    endpoint = create_outgoing_webhook(team=team, url="https://hooks.example.com/okz")
    later = timezone.now() + dt.timedelta(minutes=5)
    OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved", next_attempt_at=later)
    OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved", status="delivered")
    OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved", status="failed")
    assert tasks.dispatch_pending() == {}
    assert set(OutgoingDelivery.objects.values_list("attempts", flat=True)) == {0}


def test_the_dispatcher_runs_every_minute_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["outgoing-dispatch"]
    assert entry["task"] == tasks.dispatch_outgoing.name == "teams.dispatch_outgoing"
    assert entry["schedule"] == 60.0
    assert tasks.lease_seconds() > tasks.timeout_seconds()  # a live sender's claim outlasts its POST


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_send_each_event_once(team, broker_down, allow_private_networks):
    with Receiver() as receiver:
        endpoint = create_outgoing_webhook(team=team, url=receiver.url)
        OutgoingDelivery.objects.bulk_create(
            OutgoingDelivery(endpoint=endpoint, event="action.moved", payload={"n": n}) for n in range(20)
        )
        barrier = threading.Barrier(2)
        results = []

        def dispatcher():
            try:
                barrier.wait()
                results.append(tasks.dispatch_pending())
            finally:
                connections.close_all()

        threads = [threading.Thread(target=dispatcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    sent = sorted(json.loads(body)["n"] for _headers, body in receiver.requests)
    assert sent == list(range(20))  # each once, none twice
    assert sum(r.get("delivered", 0) for r in results) == 20
    assert set(OutgoingDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_a_session_opened_by_the_tick_writes_its_event_in_the_same_transaction(
    team, broker_down, django_capture_on_commit_callbacks
):
    from rituals import tick
    from rituals.models import ReviewSession
    from tests.rituals.test_ritual_worker import due_ritual

    create_outgoing_webhook(team=team, url="https://hooks.example.com/okz", events=["review_session.opened"])
    ritual = due_ritual(team)
    with django_capture_on_commit_callbacks(execute=True):
        assert tick.run_tick()
    assert len(broker_down) == 1  # the broker is down: the nudge failed, the row stays
    session = ReviewSession.objects.get(ritual=ritual)
    delivery = OutgoingDelivery.objects.get()
    assert (delivery.event, delivery.status) == ("review_session.opened", "pending")
    assert delivery.payload["data"]["review_session"]["id"] == session.pk
