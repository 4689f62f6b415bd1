"""Reminders go out once per item and period; notifications are logged, sent once, retried with backoff."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import tasks as core_tasks
from improvement.models import Stage
from incidents.models import Postmortem
from rituals import notifications, tasks, tick
from rituals.models import Notification, ReviewSession
from tests import factories

pytestmark = pytest.mark.django_db
UTC = dt.UTC
# A Wednesday, 10:00 in Paris: after the reminder hour.
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TODAY = dt.date(2026, 11, 25)


class ChatServer:
    """A local incoming-webhook endpoint: records each JSON body, answers the statuses it is given."""

    def __init__(self, statuses=(200,)):
        self.bodies: list[dict] = []
        self.statuses = list(statuses)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat(allow_private_networks):
    """Local chat servers on 127.0.0.1, so this opts in to private networks (production: refused)."""
    servers = []

    def start(statuses=(200,)):
        server = ChatServer(statuses)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def paris_team():
    team = factories.TeamFactory(timezone="Europe/Paris")
    factories.RitualFactory(team=team)  # reminders are for teams that run rituals
    return team


def owner_of(team, email):
    return factories.MembershipFactory(team=team, user=factories.UserFactory(email=email)).user


# --- reminders ------------------------------------------------------------------------------


def test_reminders_go_to_owners_of_due_and_overdue_actions_and_authors_of_drafts(paris_team):
    team = paris_team
    late = factories.ActionFactory(
        team=team, owner=owner_of(team, "late@example.com"), due_date=TODAY - dt.timedelta(days=1)
    )
    soon = factories.ActionFactory(
        team=team, owner=owner_of(team, "soon@example.com"), due_date=TODAY + dt.timedelta(days=2)
    )
    factories.ActionFactory(team=team, owner=owner_of(team, "later@example.com"), due_date=TODAY + dt.timedelta(days=9))
    factories.ActionFactory(
        team=team, owner=owner_of(team, "done@example.com"), due_date=TODAY - dt.timedelta(days=5), stage=Stage.DONE
    )
    draft = factories.PostmortemFactory(
        team=team, incident=factories.IncidentFactory(team=team), author=owner_of(team, "writer@example.com")
    )
    factories.PostmortemFactory(
        team=team,
        incident=factories.IncidentFactory(team=team),
        author=owner_of(team, "pub@example.com"),
        status=Postmortem.Status.PUBLISHED,
    )

    created = notifications.queue_reminders(now=NOW)

    rows = Notification.objects.filter(pk__in=created).order_by("recipient")
    assert [(n.kind, n.object_id, n.recipient, n.period) for n in rows] == [
        ("action_overdue", late.pk, "late@example.com", "2026-W48"),
        ("action_due_soon", soon.pk, "soon@example.com", "2026-W48"),
        ("postmortem_draft", draft.pk, "writer@example.com", "2026-W48"),
    ]
    assert late.title in rows[0].subject


def test_reminders_go_out_once_per_item_and_period_however_many_ticks(paris_team):
    action = factories.ActionFactory(
        team=paris_team, owner=owner_of(paris_team, "late@example.com"), due_date=TODAY - dt.timedelta(days=1)
    )
    first = notifications.queue_reminders(now=NOW)
    again = [notifications.queue_reminders(now=NOW + dt.timedelta(minutes=m)) for m in range(1, 30)]
    next_week = notifications.queue_reminders(now=NOW + dt.timedelta(days=7))
    assert len(first) == 1
    assert again == [[]] * 29
    assert len(next_week) == 1
    assert list(
        Notification.objects.filter(object_id=action.pk).values_list("period", flat=True).order_by("period")
    ) == [
        "2026-W48",
        "2026-W49",
    ]


def test_a_long_action_title_is_cut_to_fit_the_subject(paris_team):
    title = "Make the gateway survive a zone loss " * 6  # 200+ characters with the prefix
    factories.ActionFactory(
        team=paris_team,
        title=title[:200],
        owner=owner_of(paris_team, "late@example.com"),
        due_date=TODAY - dt.timedelta(days=1),
    )
    (pk,) = notifications.queue_reminders(now=NOW)
    subject = Notification.objects.get(pk=pk).subject
    assert len(subject) == 200
    assert subject.endswith("…")


def test_no_reminders_before_the_reminder_hour_in_the_team_time_zone(paris_team, settings):
    settings.OPSKAIZEN_REMINDER_HOUR = 9
    factories.ActionFactory(
        team=paris_team, owner=owner_of(paris_team, "late@example.com"), due_date=TODAY - dt.timedelta(days=1)
    )
    assert notifications.queue_reminders(now=dt.datetime(2026, 11, 25, 7, 30, tzinfo=UTC)) == []  # 08:30 in Paris
    assert len(notifications.queue_reminders(now=dt.datetime(2026, 11, 25, 8, 0, tzinfo=UTC))) == 1  # 09:00


def test_teams_without_an_active_ritual_get_no_reminders(team):
    factories.ActionFactory(team=team, owner=owner_of(team, "late@example.com"), due_date=TODAY - dt.timedelta(days=1))
    assert notifications.queue_reminders(now=NOW) == []


def test_tick_task_emails_each_reminder_once(paris_team, celery_eager, mailoutbox, monkeypatch):
    from django.utils import timezone

    factories.ActionFactory(
        team=paris_team, owner=owner_of(paris_team, "late@example.com"), due_date=TODAY - dt.timedelta(days=1)
    )
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    tasks.tick.delay()
    tasks.tick.delay()
    assert [m.to for m in mailoutbox] == [["late@example.com"]]
    assert Notification.objects.get().status == Notification.Status.SENT


# --- session opened -------------------------------------------------------------------------


def test_opening_a_session_emails_attendees_and_posts_to_chat_once(
    team, chat, mailoutbox, celery_eager, django_capture_on_commit_callbacks
):
    server = chat()
    ritual = factories.RitualFactory(team=team, timezone="Europe/Paris", chat_webhook_url=server.url)
    ritual.attendees.set(
        [owner_of(team, "a@example.com"), owner_of(team, "b@example.com"), owner_of(team, "")]
    )  # no address: skipped
    factories.IncidentFactory(team=team, title="Gateway down")
    now = ritual.next_occurrence + dt.timedelta(seconds=2)
    with django_capture_on_commit_callbacks(execute=True):
        tick.run_tick(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        tick.run_tick(now=now)

    assert sorted(m.to[0] for m in mailoutbox) == ["a@example.com", "b@example.com"]
    assert "Gateway down" in mailoutbox[0].body
    assert len(server.bodies) == 1
    assert set(server.bodies[0]) == {"text"}
    assert ritual.name in server.bodies[0]["text"] and "Gateway down" in server.bodies[0]["text"]
    session = ReviewSession.objects.get()
    assert Notification.objects.filter(object_id=session.pk, status="sent").count() == 3


# --- delivery -------------------------------------------------------------------------------


def make_notification(team, **fields):
    defaults = {
        "kind": "session_opened",
        "channel": "email",
        "object_id": 1,
        "recipient": "x@example.com",
        "subject": "Weekly review board opened",
        "body": "Agenda: nothing.",
    }
    return Notification.objects.create(team=team, **{**defaults, **fields})


def test_delivering_twice_sends_once(team, mailoutbox):
    notification = make_notification(team)
    assert notifications.deliver(notification.pk) == "sent"
    assert notifications.deliver(notification.pk) == "sent"
    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)
    assert notification.sent_at is not None


def test_a_row_claimed_by_another_worker_is_not_sent_again(team, mailoutbox):
    notification = make_notification(team, status="sending", claimed_at=dt.datetime.now(UTC))
    assert notifications.deliver(notification.pk) == "sending"
    assert mailoutbox == []


def test_chat_failure_retries_with_backoff_then_recovers(team, chat, celery_eager):
    celery_eager.conf.task_eager_propagates = False  # eager retries re-run in place only without it
    server = chat(statuses=[503, 500, 200])
    notification = make_notification(team, channel="chat", recipient=server.url)
    tasks.send_notification.delay(notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 3)
    assert len(server.bodies) == 3


def test_chat_failing_every_time_is_marked_failed_after_the_last_attempt(team, chat, celery_eager, settings):
    settings.OPSKAIZEN_NOTIFICATION_MAX_ATTEMPTS = 4
    celery_eager.conf.task_eager_propagates = False
    server = chat(statuses=[500])
    notification = make_notification(team, channel="chat", recipient=server.url)
    tasks.send_notification.delay(notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 4)
    assert "HTTP 500" in notification.last_error
    assert len(server.bodies) == 4


def test_chat_refusing_the_message_is_not_retried(team, chat, celery_eager):
    server = chat(statuses=[404])
    notification = make_notification(team, channel="chat", recipient=server.url)
    tasks.send_notification.delay(notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert len(server.bodies) == 1


def test_backoff_grows_and_is_capped():
    assert [notifications.backoff_seconds(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]


def test_rows_whose_task_was_lost_are_picked_up_again(team):
    now = dt.datetime.now(UTC)
    lost = make_notification(team, object_id=1)
    Notification.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(minutes=5))
    make_notification(team, object_id=2)  # just queued: leave it to its task
    dead = make_notification(team, object_id=3, status="sending", claimed_at=now - dt.timedelta(minutes=20))
    make_notification(team, object_id=4, status="sent")
    assert notifications.stale_notification_ids(now=now) == [lost.pk, dead.pk]


@pytest.fixture
def broker_down(celery_eager):
    """Point the Celery app at a port where nothing listens (a real refused connection, no mock)."""
    from config.celery import app

    old_url = app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.broker_url = old_url
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


def test_queueing_with_the_broker_down_logs_and_returns_instead_of_raising(broker_down, caplog):
    started = time.monotonic()
    assert core_tasks.enqueue(tasks.send_notification, 123) is False
    assert time.monotonic() - started < 5
    assert "broker unavailable" in caplog.text


def test_admin_resend_with_the_broker_down_answers_and_leaves_the_work_to_the_tick(team, client, broker_down):
    client.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))
    notification = make_notification(team, status="failed", attempts=6)
    Notification.objects.filter(pk=notification.pk).update(created_at=dt.datetime.now(UTC) - dt.timedelta(hours=1))
    response = client.post(
        "/admin/rituals/notification/",
        {"action": "send_again", "_selected_action": [notification.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "The task queue is unreachable" in response.content.decode()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("pending", 0)
    assert notification.pk in notifications.stale_notification_ids()  # the next tick queues it
