"""Incoming webhooks survive a Redis outage and a worker killed mid-drain (fault tests).

Real services only: the test database on PostgreSQL (transactional tests, so the worker
subprocesses see committed rows), one throwaway redis-server serving as Celery broker and cache
(production's single REDIS_URL; stopped and restarted by the test), real `celery worker`
subprocesses. Vendors' signed deliveries go through the real view (Django test client).
"""

import logging
import os
import re
import signal
import time

import pytest
import redis
from django.db import connection

from incidents.models import Incident
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.tasks import drain_webhooks
from integrations.webhooks.processing import DRAIN_PAUSE, drain_inbox
from tests.faults.support import task_result
from tests.integrations.test_webhook_inbox import deliver, incident_event

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DRAIN = "teams.drain_webhooks"


def generic_hook(team):
    return create_integration(team=team, source="generic")


def outcomes() -> dict[str, str]:
    return dict(WebhookDelivery.objects.values_list("vendor_delivery_id", "outcome"))


def incidents() -> dict[tuple[int, str], str]:
    return {(i.team_id, i.external_id): i.title for i in Incident.objects.all()}


def test_redis_down_deliveries_are_accepted_queued_and_applied_once_when_it_returns(
    team, other_team, one_redis, workers, caplog
):
    ours, theirs = generic_hook(team), generic_hook(other_team)
    sent = [(ours, incident_event(n, "DOWN-1")) for n in (1, 2, 3)]
    sent += [(ours, incident_event(1, "DOWN-2")), (theirs, incident_event(1, "DOWN-1"))]

    one_redis.stop()  # the outage: broker and cache at once
    assert one_redis.down()
    caplog.set_level(logging.WARNING)
    for hook, payload in sent:
        started = time.monotonic()
        response = deliver(hook, payload)
        assert time.monotonic() - started < 2  # a dead Redis costs a refused connection, not a hang
        assert response.status_code == 202, response.content
        assert response.json()["outcome"] == "queued"
    # The nudges met the dead Redis (cache, then broker) and were dropped, never raised, and logged
    # once each for the outage (core/outage_log.py), not once per request.
    assert caplog.text.count("webhook drain nudge: cache unavailable") == 1
    assert caplog.text.count("broker unavailable, teams.drain_webhooks") == 1
    assert outcomes() == {payload["id"]: "queued" for _hook, payload in sent}  # nothing lost
    assert not Incident.objects.exists()

    one_redis.start()  # back, empty: no nudge survived
    assert redis.Redis.from_url(one_redis.url).llen("celery") == 0
    worker = workers("inbox")
    task_id = drain_webhooks.apply_async().id  # what beat sends every 30 s
    assert task_result(worker, DRAIN, task_id) == "5"

    assert outcomes() == {payload["id"]: "processed" for _hook, payload in sent}
    assert incidents() == {
        (team.pk, "DOWN-1"): "Version 3",  # applied in arrival order
        (team.pk, "DOWN-2"): "Version 1",
        (other_team.pk, "DOWN-1"): "Version 1",
    }
    again = drain_webhooks.apply_async().id
    assert task_result(worker, DRAIN, again) == "0"  # nothing applied twice
    assert "Traceback" not in worker.text()


@pytest.mark.parametrize("killed", ["worker", "pool process"])
def test_worker_killed_mid_batch_commits_nothing_and_the_redelivered_drain_applies_each_delivery_once(
    killed, team, other_team, one_redis, workers, tmp_path
):
    theirs, ours = generic_hook(other_team), generic_hook(team)
    assert deliver(theirs, incident_event(1, "KILL-0")).status_code == 202  # the oldest: its batch of one goes first
    for payload in [incident_event(n, "KILL-1") for n in (1, 2, 3)] + [incident_event(1, "KILL-2")]:
        assert deliver(ours, payload).status_code == 202
    # The first delivery's nudge holds the cache key, so the others queue no second drain.
    assert redis.Redis.from_url(one_redis.url).llen("celery") == 1

    # The drain pauses inside our batch of four, after applying its first delivery (once: a re-run goes straight on).
    env = {DRAIN_PAUSE: f"mid_batch:60:{tmp_path / 'paused-once'}"}
    if killed == "pool process":
        env["CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA"] = '{"visibility_timeout": 3600}'  # only a reject may requeue
    doomed = workers("doomed", **env)
    doomed.wait_for("pausing 60s mid_batch")
    task_id = re.search(rf"Task {re.escape(DRAIN)}\[([^\]]+)\] received", doomed.text()).group(1)

    # Their batch of one committed; ours is half applied inside an open transaction, so nothing of it shows.
    assert outcomes() == {
        "evt-KILL-0-1": "processed",
        **{f"evt-KILL-1-{n}": "queued" for n in (1, 2, 3)},
        "evt-KILL-2-1": "queued",
    }
    assert incidents() == {(other_team.pk, "KILL-0"): "Version 1"}
    first_applied_at = WebhookDelivery.objects.get(vendor_delivery_id="evt-KILL-0-1").processed_at
    # A drain running meanwhile skips the locked integration at once: it neither applies the batch too nor waits.
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '3s'")  # a lock wait would fail the test instead of hanging it
    started = time.monotonic()
    assert drain_inbox(budget_seconds=5) == 0
    assert time.monotonic() - started < 2
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")

    if killed == "worker":
        doomed.kill()  # SIGKILL the whole worker: PostgreSQL rolls the open batch back when its connection drops
        after = workers("restarted")
        # acks_late: the unacknowledged message comes back (here after a 3 s visibility timeout) to the new worker.
        after.wait_for(rf"Task {re.escape(DRAIN)}\[{task_id}\] received", timeout=30)
    else:
        pid = int(re.search(r"pausing 60s mid_batch in pid (\d+)", doomed.text()).group(1))
        assert pid in doomed.pool_children()
        os.kill(pid, signal.SIGKILL)  # the process running the drain dies; its worker lives on
        after = doomed
        # reject_on_worker_lost: the message goes back to the queue at once and runs again.
        after.wait_for(rf"Task {re.escape(DRAIN)}\[{task_id}\] received", count=2, timeout=30)
        assert "WorkerLostError" in after.text()
    assert task_result(after, DRAIN, task_id, timeout=30) == "4"  # our whole batch, not theirs again

    assert outcomes() == {
        "evt-KILL-0-1": "processed",
        **{f"evt-KILL-1-{n}": "processed" for n in (1, 2, 3)},
        "evt-KILL-2-1": "processed",
    }
    assert WebhookDelivery.objects.get(vendor_delivery_id="evt-KILL-0-1").processed_at == first_applied_at
    assert incidents() == {
        (other_team.pk, "KILL-0"): "Version 1",
        (team.pk, "KILL-1"): "Version 3",
        (team.pk, "KILL-2"): "Version 1",
    }
    again = drain_webhooks.apply_async().id
    assert task_result(after, DRAIN, again) == "0"
