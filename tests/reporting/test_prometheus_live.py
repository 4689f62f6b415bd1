"""Debian's real Prometheus scrapes /metrics of a live gunicorn with two workers (no mock of either).

gunicorn runs deploy/gunicorn.conf.py with PROMETHEUS_MULTIPROC_DIR, against the test database;
Prometheus runs on a free loopback port with a scrape config holding the instance's credential
(and a second job with a wrong one), and the test reads the series back from Prometheus's HTTP API.
"""

import concurrent.futures
import datetime as dt
import json
import os
import signal
import subprocess
import urllib.parse
import urllib.request

import pytest

from tests.conftest import PROMETHEUS
from tests.factories import ChangeFactory, IncidentFactory, ServiceFactory, TeamFactory
from tests.faults.processes import BIN, ROOT, service_env, wait_for
from tests.faults.support import free_port
from tests.reporting.test_dashboard_page import last_complete_monday
from tests.rituals.test_ritual_worker import database_url

pytestmark = [pytest.mark.prometheus, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TOKEN = "live-scrape-credential"
REQUESTS = 24

CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: opskaizen
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: {token}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
  - job_name: wrong-credential
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials: not-the-credential
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Process:
    """A process in its own session, logging to a file; stopped with its children."""

    def __init__(self, args: list[str], log, env: dict | None = None):
        self.log = log
        out = open(log, "w")  # noqa: SIM115 - closed with the process
        self.out = out
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.out.close()


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    env = service_env(
        DATABASE_URL=database_url(), OPSKAIZEN_VAR_DIR=tmp_path / "var", OPSKAIZEN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=2, DJANGO_SETTINGS_MODULE="config.settings", DEBUG="false", CONN_MAX_AGE=0,
        METRICS_SCRAPE_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=tmp_path / "multiproc", DATABASE_REPLICA_URL=None,
    )  # fmt: skip
    (tmp_path / "multiproc").mkdir()
    web = Process([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "config.wsgi"], tmp_path / "web.log", env)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz/")[0] == 200, 40, "gunicorn answers /healthz/")
        yield port
    finally:
        web.stop()


@pytest.fixture
def prometheus(tmp_path):
    started = []

    def start(target_port: int) -> str:
        (tmp_path / "prometheus.yml").write_text(CONFIG.format(token=TOKEN, port=target_port))
        port = free_port()
        server = Process(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            tmp_path / "prometheus.log",
        )
        started.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(base + "/-/ready")[0] == 200, 40, f"Prometheus ready ({tmp_path / 'prometheus.log'})")
        return base

    yield start
    for server in started:
        server.stop()


def query(base: str, expression: str) -> list[dict]:
    status, body = get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expression})}")
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def value(base: str, expression: str) -> float | None:
    found = query(base, expression)
    return float(found[0]["value"][1]) if found else None


def healthz_count(web: str) -> float:
    """/healthz/ requests answered so far, as one scrape of /metrics reports them."""
    status, body = get(f"{web}/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    prefix = "opskaizen_http_request_duration_seconds_count{"
    lines = [x for x in body.decode().splitlines() if x.startswith(prefix) and 'view="healthz"' in x]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def histogram_files(tmp_path) -> list[str]:
    return [name for name in os.listdir(tmp_path / "multiproc") if name.startswith("histogram_")]


def test_prometheus_scrapes_the_product_across_two_web_processes(gunicorn, prometheus, tmp_path):
    team = TeamFactory()
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for i in range(5):
        start = dt.datetime.combine(monday - dt.timedelta(weeks=i), dt.time(9), tzinfo=dt.UTC)
        IncidentFactory(team=team, service=service, started_at=start, mitigated_at=start + dt.timedelta(minutes=5))
        ChangeFactory(team=team, service=service, deployed_at=start, failed=i < 2)
    web = f"http://127.0.0.1:{gunicorn}"
    before = healthz_count(web)  # the fixture's own /healthz/ probes
    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # at once: both workers take some
        assert list(pool.map(lambda _n: get(f"{web}/healthz/")[0], range(REQUESTS))) == [200] * REQUESTS
    assert len(histogram_files(tmp_path)) == 2  # one per worker: both answered
    # Every scrape, whichever worker answers it, counts the requests that both answered.
    assert {healthz_count(web) for _ in range(6)} == {before + REQUESTS}
    assert get(f"{web}/metrics")[0] == 403

    base = prometheus(gunicorn)
    wait_for(lambda: value(base, f'opskaizen_team_incidents{{team="{team.slug}"}}') is not None, 40, "a scrape")
    assert value(base, 'up{job="opskaizen"}') == 1
    wait_for(lambda: value(base, 'up{job="wrong-credential"}') == 0, 40, "the refused scrape")
    assert value(base, f'opskaizen_team_incidents{{team="{team.slug}"}}') == 5
    assert value(base, f'opskaizen_team_change_failure_rate{{team="{team.slug}"}}') == pytest.approx(0.4)
    assert value(base, f'opskaizen_team_time_to_restore_p90_seconds{{team="{team.slug}"}}') == 300
    assert value(base, f'opskaizen_team_open_actions{{team="{team.slug}"}}') == 0
    assert value(base, 'opskaizen_webhook_inbox_queued{job="opskaizen"}') == 0
    assert value(base, 'sum(opskaizen_http_request_duration_seconds_count{view="healthz"})') == before + REQUESTS
    assert value(base, 'sum(opskaizen_http_request_duration_seconds_count{view="metrics"})') >= 1
