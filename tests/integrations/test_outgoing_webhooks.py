"""Outgoing webhooks: a stage move or an opened review session POSTs a signed event to the team's URLs."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from improvement.services import move_action
from integrations.models import OutgoingDelivery
from integrations.services import create_outgoing_webhook
from rituals import signals as ritual_signals
from rituals.models import ReviewSession
from tests import factories

# Every test here sends to a Receiver on 127.0.0.1: an explicit opt-in, as an on-prem install would.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private_networks")]


class Receiver:
    """A local HTTP server on 127.0.0.1 that records requests and answers with queued status codes."""

    def __init__(self, statuses=(200,)):
        self.requests: list[tuple[dict, bytes]] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    # Eager tasks run their retries inline (countdowns are skipped) when errors do not propagate.
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = False, True


def test_a_stage_move_posts_a_signed_event(team, eager, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    with Receiver() as receiver:
        endpoint = create_outgoing_webhook(team=team, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            move_action(action=action, to_stage="do", via="api")
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    payload = json.loads(body)
    assert payload["type"] == "action.moved"
    assert payload["data"]["transition"]["to_stage"] == "do"
    expected = hmac.new(
        endpoint.secret.encode(), headers["x-opskaizen-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["x-opskaizen-signature"], f"sha256={expected}")
    delivery = OutgoingDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_failing_endpoint_is_retried_then_delivered(team, eager, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    with Receiver(statuses=(503, 500, 200)) as receiver:
        create_outgoing_webhook(team=team, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            move_action(action=action, to_stage="do")
    assert len(receiver.requests) == 3
    ids = {json.loads(body)["id"] for _headers, body in receiver.requests}
    assert len(ids) == 1  # the same event each time, so the receiver can de-duplicate
    delivery = OutgoingDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_an_endpoint_that_never_answers_ok_is_given_up_and_logged(team, eager, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    with Receiver(statuses=(500,)) as receiver:
        create_outgoing_webhook(team=team, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            move_action(action=action, to_stage="do")
    delivery = OutgoingDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 6, 500)
    assert len(receiver.requests) == 6


def test_only_the_teams_own_subscribed_endpoints_receive(team, other_team, eager, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team)
    with Receiver() as ours, Receiver() as theirs, Receiver() as sessions_only:
        create_outgoing_webhook(team=team, url=ours.url)
        create_outgoing_webhook(team=other_team, url=theirs.url)
        create_outgoing_webhook(team=team, url=sessions_only.url, events=["review_session.opened"])
        with django_capture_on_commit_callbacks(execute=True):
            move_action(action=action, to_stage="do")
        ritual = factories.RitualFactory(team=team)
        with django_capture_on_commit_callbacks(execute=True):
            session = ReviewSession.objects.create(
                team=team, ritual=ritual, occurrence=timezone.now() + dt.timedelta(1)
            )
            ritual_signals.review_session_opened_in_transaction.send(sender=ReviewSession, session=session)
    assert len(ours.requests) == 2
    assert theirs.requests == []
    assert [json.loads(body)["type"] for _h, body in sessions_only.requests] == ["review_session.opened"]


def test_a_refused_move_sends_nothing(team, eager, django_capture_on_commit_callbacks):
    action = factories.ActionFactory(team=team, hypothesis="")
    with Receiver() as receiver:
        create_outgoing_webhook(team=team, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception, match="hypothesis"):
            move_action(action=action, to_stage="do")
    assert receiver.requests == []
    assert not OutgoingDelivery.objects.exists()
