"""A worker holding an unacknowledged task survives repeated Redis outages; the backlog drains by itself.

What used to happen (Celery/kombu 5.7.0): the connection drops while the worker holds an
unacknowledged message; Celery closes the broken connection twice, and the second close tries to
restore the message through a transport already detached from its connection:
``AttributeError: 'NoneType' object has no attribute 'hostname'``, "Unrecoverable error", the
worker exits and nothing applies the queue any more. config/redis_broker.py is the fix; this test
reproduces the situation deterministically, several times in a row, on real processes:

- a real ``celery worker`` started with production's options (deploy/) and a real ``celery beat``
  (sweeping the inbox every 2 s instead of 30: tests/faults/fast_beat_settings.py), both on a
  throwaway redis-server that keeps its data across a restart, as production's does;
- the drain is held mid-batch (the fault hook of core/fault_hooks.py), so its message is surely
  unacknowledged (acks_late) when the test stops Redis; webhooks keep arriving during the outage;
- Redis comes back either while the task is still held (its acknowledgement then goes through
  the remembered address) or after it finished (acknowledged after the reconnection).

Then nobody publishes anything: beat's sweep and the reconnected worker apply the backlog. Each
delivery is applied once, in arrival order, and no message is delivered twice.
"""

import collections
import json
import logging
import re
import sys
import time

import pytest
from django.db import transaction

from incidents.models import Incident
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks.processing import DRAIN_PAUSE
from tests.faults.processes import PersistentRedis, Service, service_env, wait_for
from tests.faults.support import celery_broker
from tests.integrations.test_webhook_inbox import deliver, incident_event
from tests.rituals.test_ritual_worker import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CYCLES = 3
HOLD_SECONDS = 4
DRAIN = "teams.drain_webhooks"


@pytest.fixture
def one_redis(tmp_path, settings):
    """A throwaway Redis that keeps its data, serving as broker and cache (production's single REDIS_URL)."""
    from core.cache import REDIS_CACHE

    server = PersistentRedis(tmp_path / "redis.log")
    server.start()
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": server.url}}
    try:
        with celery_broker(server.url):
            yield server
    finally:
        server.stop()


@pytest.fixture
def services(tmp_path):
    started: list[Service] = []

    def start(name: str, argv: list[str], **env) -> Service:
        service = Service(name, argv, tmp_path / f"{name}.log", service_env(**env))
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def queued() -> list[str]:
    return sorted(WebhookDelivery.objects.filter(outcome="queued").values_list("vendor_delivery_id", flat=True))


def applied_at() -> dict[str, object]:
    return dict(WebhookDelivery.objects.filter(outcome="processed").values_list("vendor_delivery_id", "processed_at"))


def until(predicate, timeout: float, what: str, *alive: Service) -> None:
    """Wait for `predicate`, failing at once (with its log) if one of the `alive` services exits meanwhile."""

    def check():
        for service in alive:
            if not service.alive():
                raise AssertionError(f"{service.name} exited ({service.process.returncode}):\n{service.text()[-3000:]}")
        return predicate()

    wait_for(check, timeout, what)


def test_a_worker_holding_an_unacknowledged_task_survives_repeated_broker_outages(
    team, other_team, one_redis, services, tmp_path, caplog
):
    ours = create_integration(team=team, source="generic")
    theirs = create_integration(team=other_team, source="generic")
    env = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": one_redis.url,
        "CELERY_BROKER_URL": one_redis.url,
        "CONN_MAX_AGE": "0",
        # A message whose worker died comes back after 10 s (production: 1 hour); longer than the hold.
        "CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA": json.dumps(
            {"visibility_timeout": 10, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
        ),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    held_once = tmp_path / "held-once"
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    worker = services(
        "worker",
        [*celery, "worker", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--concurrency=2",
         "-n", f"outage-{tmp_path.name}@%h"],
        # Each armed cycle, the first drain to reach the middle of a batch holds it 4 s; one batch per task.
        **env, **{DRAIN_PAUSE: f"mid_batch:{HOLD_SECONDS}:{held_once}", "OPSKAIZEN_WEBHOOK_DRAIN_SECONDS": "1"},
    )  # fmt: skip
    beat = services(
        "beat",
        [*celery, "beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
        **{**env, "DJANGO_SETTINGS_MODULE": "tests.faults.fast_beat_settings"},
    )
    worker.wait_for(r"ready\.")
    beat.wait_for(r"beat: Starting")
    caplog.set_level(logging.WARNING)
    expected = {}

    for cycle in range(1, CYCLES + 1):
        held_once.unlink(missing_ok=True)  # arm the hold
        with transaction.atomic():  # both rows commit together, so the drain takes them as one batch
            for n in (1, 2):
                assert deliver(ours, incident_event(n, f"HELD-{cycle}")).status_code == 202
        worker.wait_for(rf"pausing {HOLD_SECONDS}s mid_batch", count=cycle)
        assert queued() == [f"evt-HELD-{cycle}-1", f"evt-HELD-{cycle}-2"]  # held inside an open transaction

        one_redis.stop()  # the outage, while the drain's message is unacknowledged
        worker.wait_for("Connection to broker lost", count=cycle)
        backlog = [(theirs, incident_event(n, f"BACKLOG-{cycle}")) for n in (1, 2)] + [
            (ours, incident_event(3, f"HELD-{cycle}"))
        ]
        for hook, payload in backlog:
            assert deliver(hook, payload).status_code == 202  # accepted, queued in PostgreSQL
        if cycle % 2 == 0:
            # Redis stays away until the held task has finished (it is acknowledged after the reconnection).
            until(lambda c=cycle: f"evt-HELD-{c}-2" not in queued(), 20, "the held batch committed", worker, beat)
        one_redis.start()  # back (odd cycles: while the task is still held)
        returned_at = time.monotonic()

        # Nobody publishes anything: the worker reconnects by itself and beat's sweep applies the backlog.
        until(lambda: not queued(), 45, f"cycle {cycle}: the backlog applied", worker, beat)
        before = applied_at()
        for vendor_id in expected:
            assert before[vendor_id] == expected[vendor_id]  # an earlier cycle's delivery was not applied again
        expected = before

    # Once more in normal operation: the nudge reaches the worker again.
    assert deliver(ours, incident_event(1, "AFTER")).status_code == 202
    until(lambda: not queued(), 30, "a delivery after the outages applied", worker, beat)

    text = worker.text()
    assert "Unrecoverable error" not in text and "AttributeError" not in text
    assert text.count("Connection to broker lost") == CYCLES
    assert {(i.team_id, i.external_id): i.title for i in Incident.objects.all()} == {
        **{(team.pk, f"HELD-{c}"): "Version 3" for c in range(1, CYCLES + 1)},  # in arrival order
        **{(other_team.pk, f"BACKLOG-{c}"): "Version 2" for c in range(1, CYCLES + 1)},
        (team.pk, "AFTER"): "Version 1",
    }
    assert WebhookDelivery.objects.filter(outcome="processed").count() == 5 * CYCLES + 1
    # Each delivery applied by exactly one drain: the drains' counts add up to the deliveries.
    counts = re.findall(rf"Task {DRAIN}\[[^\]]+\] succeeded in [\d.]+s: (\d+)", text)
    assert sum(int(n) for n in counts) == 5 * CYCLES + 1

    # No message came back: each held one was acknowledged once Redis was there again (an
    # unacknowledged one would be delivered a second time once its visibility timeout has passed).
    time.sleep(max(0.0, returned_at + 12 - time.monotonic()))
    assert worker.alive() and beat.alive()
    received = collections.Counter(re.findall(rf"Task {DRAIN}\[([^\]]+)\] received", worker.text()))
    assert received and set(received.values()) == {1}, received.most_common(3)

    # The web side logged each outage twice, not once per request (one warning down, one back).
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("broker unavailable, teams.drain_webhooks" in m for m in warnings) == CYCLES
    assert sum(m.startswith("broker available again") for m in warnings) == CYCLES
    assert sum("webhook drain nudge: cache unavailable" in m for m in warnings) == CYCLES
    assert sum(m.startswith("cache available again") for m in warnings) == CYCLES
    assert not any(r.exc_info for r in caplog.records)
