"""A real Celery worker on the real Redis and PostgreSQL opens each session exactly once.

The worker is a subprocess (`celery -A config worker`) on the test database (pytest-django's
test_<name>, hence a transactional test: the worker only sees committed rows) and on the Redis
at settings.REDIS_URL. It is always killed at the end, whatever happens.
"""

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection, connections

from rituals import agenda, occurrences, tasks, tick
from rituals.models import Notification, ReviewSession, Ritual
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict  # during the test: the test database
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery worker` in its own process group, logging to a file we can read."""

    def __init__(self, tmp_path: Path, name: str, **env):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CONN_MAX_AGE": "0",
            # Redeliver an unacknowledged task a few seconds after its worker died (production: 1 hour).
            "CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA": (
                '{"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'
            ),
            **env,
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=4",
                 "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "-n", f"{name}-{os.getpid()}@%h"],
                cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.wait_for("ready", timeout=30)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.text()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the worker log after {timeout}s:\n{self.text()[-3000:]}")

    def pool_children(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): no goodbye, no ack."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def workers(tmp_path):
    started: list[Worker] = []

    def start(name: str, **env) -> Worker:
        worker = Worker(tmp_path, name, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture(autouse=True)
def empty_queue():
    from config.celery import app

    assert not app.conf.task_always_eager, "an earlier test left Celery eager: nothing would reach the worker"
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    yield
    client.delete("celery", "unacked", "unacked_index", "unacked_mutex")


def due_ritual(team, attendees=()) -> Ritual:
    """A weekly ritual whose occurrence was two minutes ago, not opened yet."""
    occurrence = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)).replace(second=0, microsecond=0)
    ritual = factories.RitualFactory(
        team=team, timezone="UTC", weekday=occurrence.weekday(), time_of_day=occurrence.time()
    )
    ritual.attendees.set(attendees)
    Ritual.objects.filter(pk=ritual.pk).update(next_occurrence=occurrence)
    assert occurrences.previous_occurrence(ritual, at=dt.datetime.now(dt.UTC)) == occurrence
    return ritual


def wait_until(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def publish_tick() -> str:
    return tasks.tick.apply_async().id


def test_concurrent_ticks_on_a_real_worker_and_in_threads_open_one_session(team, workers):
    attendee = factories.MembershipFactory(team=team, user=factories.UserFactory(email="lead@example.com")).user
    ritual = due_ritual(team, attendees=[attendee])
    # The tick that gets the ritual holds its row lock 3 s before committing: every other tick
    # runs inside that window.
    worker = workers("concurrent", OPSKAIZEN_TEST_TICK_PAUSE="before_commit:3")

    ids = [publish_tick() for _ in range(4)]  # four ticks at once on four worker processes
    worker.wait_for("pausing 3s before_commit")
    barrier = threading.Barrier(2)
    results, durations = [], []

    def tick_in_thread():  # ...and two more in threads of this process, while the lock is held
        try:
            barrier.wait()
            started = time.monotonic()
            results.append(tick.run_tick())
            durations.append(time.monotonic() - started)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for task_id in ids:
        worker.wait_for(rf"Task improvement\.tick\[{task_id}\] succeeded")

    assert results == [[], []]  # the locked ritual was skipped...
    assert max(durations) < 2  # ...not waited for (SKIP LOCKED)
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1
    assert worker.text().count("pausing 3s before_commit") == 1  # one tick opened it, the others found nothing
    session = ReviewSession.objects.get(ritual=ritual)
    assert session.agenda["version"] == agenda.VERSION
    assert list(Notification.objects.filter(object_id=session.pk).values_list("recipient", flat=True)) == [
        "lead@example.com"
    ]
    # ...and the worker delivered that email once, through the real queue.
    wait_until(lambda: Notification.objects.get(object_id=session.pk).status == "sent")


def test_worker_killed_before_commit_reruns_the_tick_and_opens_once(team, workers):
    ritual = due_ritual(team)
    first = workers("doomed", OPSKAIZEN_TEST_TICK_PAUSE="before_commit:60")
    task_id = publish_tick()
    first.wait_for("pausing 60s before_commit")  # the session is written, not committed
    assert not ReviewSession.objects.filter(ritual=ritual).exists()
    first.kill()

    second = workers("restarted")
    # acks_late: the unacknowledged message comes back and runs again on the new worker.
    second.wait_for(rf"Task improvement\.tick\[{task_id}\] received", timeout=30)
    second.wait_for(rf"Task improvement\.tick\[{task_id}\] succeeded")
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1


def test_worker_killed_after_commit_reruns_the_tick_without_a_second_session(team, workers):
    ritual = due_ritual(team)
    first = workers("doomed", OPSKAIZEN_TEST_TICK_PAUSE="after_commit:60")
    task_id = publish_tick()
    first.wait_for("pausing 60s after_commit")  # committed, not yet acknowledged
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1
    first.kill()

    second = workers("restarted")
    second.wait_for(rf"Task improvement\.tick\[{task_id}\] received", timeout=30)
    second.wait_for(rf"Task improvement\.tick\[{task_id}\] succeeded")
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1


def test_pool_process_killed_mid_task_is_rejected_and_rerun_opening_once(team, workers, tmp_path):
    ritual = due_ritual(team)
    # Only the first run pauses; the re-run after the kill goes straight through.
    worker = workers(
        "pool",
        OPSKAIZEN_TEST_TICK_PAUSE=f"before_commit:60:{tmp_path / 'paused-once'}",
        # No redelivery by timeout here: only reject_on_worker_lost may bring the task back.
        CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA='{"visibility_timeout": 3600}',
    )
    task_id = publish_tick()
    worker.wait_for("pausing 60s before_commit")
    pid = int(re.search(r"pausing 60s before_commit in pid (\d+)", worker.text()).group(1))
    assert pid in worker.pool_children()
    os.kill(pid, signal.SIGKILL)  # the process running the task dies; its worker lives on

    # reject_on_worker_lost: the message goes back to the queue and runs again at once.
    worker.wait_for(rf"Task improvement\.tick\[{task_id}\] received", count=2, timeout=30)
    worker.wait_for(rf"Task improvement\.tick\[{task_id}\] succeeded")
    assert "WorkerLostError" in worker.text()
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1
