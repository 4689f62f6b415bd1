"""The shipped supervision restarts a killed worker, and its queue drains once (supervisord as the stand-in).

These machines do not run systemd, so the restart behaviour is tested under supervisord with the
shipped deploy/supervisord.conf (the systemd units are checked by systemd-analyze instead:
tests/test_operations.py). supervisord runs web (gunicorn), worker and beat exactly as configured,
pointed at the test database and a throwaway redis-server through its environment, as an operator
points it at production. Deliveries arrive over HTTP at the supervised gunicorn.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from incidents.models import Incident
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import generic
from integrations.webhooks.processing import DRAIN_PAUSE
from tests.faults.processes import (
    BIN,
    ROOT,
    Service,
    celery_processes,
    in_session,
    kill_session,
    log_count,
    service_env,
    wait_for,
)
from tests.faults.support import ThrowawayRedis, free_port
from tests.integrations.test_webhook_inbox import incident_event
from tests.rituals.test_ritual_worker import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CONF = ROOT / "deploy" / "supervisord.conf"
DRAIN = "teams.drain_webhooks"
RECEIVED = rf"Task {DRAIN}\[([^\]]+)\] received"
SUCCEEDED = rf"Task {DRAIN}\[([^\]]+)\] succeeded"


@pytest.fixture
def throwaway_redis(tmp_path):
    server = ThrowawayRedis(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


class Supervisor:
    """supervisord -c deploy/supervisord.conf, and supervisorctl on its socket."""

    def __init__(self, tmp_path, env: dict):
        self.env, self.var = env, tmp_path / "var"
        self.var.mkdir()
        self.service = Service("supervisord", [str(BIN / "supervisord"), "-c", str(CONF)], tmp_path / "sd.out", env)

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(CONF), *args], env=self.env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        return done.stdout + done.stderr

    def running_pid(self, program: str) -> int | None:
        """The program's pid while supervisord reports it RUNNING, else None."""
        match = re.search(rf"^{program}\s+RUNNING\s+pid (\d+)", self.ctl("status", program), re.M)
        return int(match.group(1)) if match else None

    def log(self, program: str):
        return self.var / f"{program}.log"

    def wait_running(self, program: str, *, not_pid: int | None = None, timeout: float = 40) -> int:
        def check():
            if not self.service.alive():
                raise AssertionError(f"supervisord exited:\n{self.service.text()[-3000:]}")
            pid = self.running_pid(program)
            return pid if pid and pid != not_pid else None

        return wait_for(check, timeout, f"supervisord reports {program} RUNNING (not pid {not_pid})")


def post_delivery(port: int, hook, payload: dict) -> int:
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/{hook.public_id}/",
        data=body,
        headers={
            "Content-Type": "application/json",
            generic.TIMESTAMP_HEADER: timestamp,
            generic.SIGNATURE_HEADER: generic.sign(hook.secret, timestamp, body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own gunicorn on loopback
        return response.status


def healthz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def queued() -> int:
    return WebhookDelivery.objects.filter(outcome="queued").count()


def test_supervisord_restarts_a_killed_worker_and_beat_and_the_queue_drains_once(team, throwaway_redis, tmp_path):
    hook = create_integration(team=team, source="generic")
    port = free_port()
    env = service_env(
        DATABASE_URL=database_url(),
        REDIS_URL=throwaway_redis.url,
        CELERY_BROKER_URL=throwaway_redis.url,
        OPSKAIZEN_VAR_DIR=tmp_path / "var",
        OPSKAIZEN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=1,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        CONN_MAX_AGE=0,
        # A message whose worker died comes back after 20 s (production: 1 hour), well after the kill.
        CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA=json.dumps(
            {"visibility_timeout": 20, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
        ),
        # The first drain to reach the middle of a batch holds it 60 s (the restarted worker's does not).
        **{DRAIN_PAUSE: f"mid_batch:60:{tmp_path / 'paused-once'}"},
    )
    supervisor = Supervisor(tmp_path, env)
    sid = supervisor.service.pid
    try:
        for program in ("web", "worker", "beat"):
            supervisor.wait_running(program)
        wait_for(lambda: log_count(supervisor.log("worker"), r"ready\.") == 1, 40, "the worker is ready")
        wait_for(lambda: healthz(port)[0] == 200, 40, "gunicorn answers /healthz/")
        beat = supervisor.wait_running("beat")

        # Four deliveries while the worker is stopped, so that the drain finds them as one batch.
        assert "worker: stopped" in supervisor.ctl("stop", "worker")
        for n in (1, 2, 3, 4):
            assert post_delivery(port, hook, incident_event(n, "SUP-1")) == 202
        status, health = healthz(port)
        assert status == 200 and health["inbox"]["queued"] == 4
        assert health["inbox"]["oldest_queued_age_seconds"] >= 0
        assert "worker: started" in supervisor.ctl("start", "worker")
        worker = supervisor.wait_running("worker")
        wait_for(lambda: log_count(supervisor.log("worker"), r"pausing 60s mid_batch") == 1, 40, "the drain is held")
        held_in = int(re.findall(r"pausing 60s mid_batch in pid (\d+)", supervisor.log("worker").read_text())[0])

        # The documented liveness check answers from the running worker.
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "10"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
        assert queued() == 4  # the held batch is one open transaction: nothing of it shows

        # The worker's main process dies without a goodbye; supervisord starts a new one.
        killed_log = supervisor.log("worker").read_text()
        unacknowledged = set(re.findall(RECEIVED, killed_log)) - set(re.findall(SUCCEEDED, killed_log))
        os.kill(worker, signal.SIGKILL)
        restarted = supervisor.wait_running("worker", not_pid=worker)
        wait_for(lambda: not any(p.pid == held_in for p in in_session(sid)), 20, "the held pool process died too")
        wait_for(lambda: log_count(supervisor.log("worker"), r"ready\.") == 3, 40, "the restarted worker is ready")
        # The drain that died was never acknowledged: Redis hands it to the new worker (after the
        # visibility timeout). It, or beat's sweep if that comes first, applies the batch: once.
        wait_for(lambda: queued() == 0, 60, "the queue drained after the restart")

        def redelivered():
            after = supervisor.log("worker").read_text()[len(killed_log) :]
            return unacknowledged & set(re.findall(SUCCEEDED, after))

        wait_for(redelivered, 60, "the killed worker's drain ran again on the new worker")
        assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}
        assert Incident.objects.get(external_id="SUP-1").title == "Version 4"  # in arrival order
        worker_log = supervisor.log("worker").read_text()
        applied = re.findall(rf"Task {DRAIN}\[[^\]]+\] succeeded in [\d.]+s: (\d+)", worker_log)
        assert sum(int(n) for n in applied) == 4  # each delivery applied by exactly one drain

        # Beat too is restarted when it dies; there is never a second one (none inside a worker).
        assert [p.pid for p in celery_processes(sid, "beat")] == [beat]
        os.kill(beat, signal.SIGKILL)
        new_beat = supervisor.wait_running("beat", not_pid=beat)
        wait_for(lambda: [p.pid for p in celery_processes(sid, "beat")] == [new_beat], 20, "exactly one beat")
        assert [p.pid for p in celery_processes(sid, "worker")] == [restarted]
        status, health = healthz(port)
        assert status == 200
        assert health["inbox"] == {"queued": 0, "oldest_queued_at": None, "oldest_queued_age_seconds": None}

        # Stopped as a whole: nothing of it is left.
        supervisor.ctl("shutdown")
        supervisor.service.process.wait(timeout=60)
        wait_for(lambda: not in_session(sid), 20, "every supervised process stopped")
    finally:
        kill_session(sid)
