"""The quickstart's web, worker and beat (scripts/serve.sh, run by scripts/demo.sh) stop together.

No service needed: the embedded defaults (SQLite and the file-system broker) under a scratch
OPSKAIZEN_VAR_DIR. The script must lead its own process group and stop all of it when any of the
three dies, so that no beat is ever left running on its own (as an embedded `worker --beat` was
when its worker was killed).
"""

import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.faults.processes import ROOT, celery_processes, in_group, kill_session, log_count, service_env, wait_for
from tests.faults.support import free_port

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or shutil.which("setsid") is None, reason="needs Linux's /proc and setsid"
)


@pytest.fixture
def quickstart(tmp_path):
    """scripts/serve.sh on a free port, up and answering; killed whole at the end whatever happens."""
    port = free_port()
    var = tmp_path / "var"
    env = service_env(
        OPSKAIZEN_VAR_DIR=var, DEBUG="true", DATABASE_URL=None, REDIS_URL=None, CELERY_BROKER_URL=None,
        DJANGO_SETTINGS_MODULE=None, CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA=None,
    )  # fmt: skip
    with (tmp_path / "serve.log").open("w") as out:
        script = subprocess.Popen(
            ["bash", "scripts/serve.sh", str(port)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def up():
            assert script.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2):
                    pass
            except OSError:
                return False
            return log_count(var / "celery-worker.log", r"ready\.") and log_count(var / "celery-beat.log", "Starting")

        wait_for(up, 60, "web, worker and beat started")
        # It took a session of its own (it was not started from a terminal): one group for all three.
        assert os.getpgid(script.pid) == script.pid == os.getsid(script.pid)
        yield script, tmp_path
    finally:
        kill_session(script.pid)
        script.wait(timeout=10)


def test_a_killed_worker_stops_web_and_beat_too(quickstart):
    script, tmp_path = quickstart
    group = script.pid
    (worker,) = celery_processes(group, "worker")
    (beat,) = celery_processes(group, "beat")
    assert worker.ppid == beat.ppid == script.pid  # beat is the script's child, not the worker's
    started = {p.pid for p in in_group(group)}
    assert len(started) >= 5  # the script, gunicorn and its 2 workers, worker and its pool, beat

    os.kill(worker.pid, signal.SIGKILL)
    assert script.wait(timeout=60) != 0
    assert "the worker process stopped: stopping the others" in (tmp_path / "serve.log").read_text()
    wait_for(lambda: not in_group(group), 20, "no process of the group left (beat included)")


def test_a_term_to_the_script_stops_everything(quickstart):
    script, _tmp_path = quickstart
    group = script.pid
    os.kill(script.pid, signal.SIGTERM)  # what Ctrl-C's INT does too, through the trap
    assert script.wait(timeout=60) == 143
    wait_for(lambda: not in_group(group), 20, "no process of the group left")
