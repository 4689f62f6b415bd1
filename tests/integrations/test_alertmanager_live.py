"""A real Prometheus Alertmanager (Debian's 0.25) sends to a live OpsKaizen: no mock of the sender.

Alertmanager runs on a free loopback port with a webhook_config pointing at a small switch in
front of the live server, which answers 503 while OpsKaizen is "down": Alertmanager retries, and
what it resends once OpsKaizen is back opens, groups and resolves the incidents as configured.
"""

import datetime as dt
import http.server
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from incidents.models import Incident
from integrations.models import Integration, WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks.processing import drain_inbox
from tests import factories
from tests.conftest import ALERTMANAGER

pytestmark = [pytest.mark.alertmanager, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Switch:
    """Forwards POSTs to the live server while up; answers 503 (which Alertmanager retries) while down."""

    def __init__(self, target: str):
        self.target, self.up, self.refused, self.forwarded = target, False, 0, 0
        switch = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not switch.up:
                    switch.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                request = urllib.request.Request(switch.target + self.path, data=body, method="POST")  # noqa: S310
                for name in ("Content-Type", "Authorization", "User-Agent"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live server
                        status, answer = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, answer = exc.code, exc.read()
                switch.forwarded += 1
                self.send_response(status)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


CONFIG = """
global:
  resolve_timeout: 5s
route:
  receiver: opskaizen
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opskaizen
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@pytest.fixture
def alertmanager(tmp_path):
    """Start Alertmanager with the config `start(url, token)` writes; yields the API's base URL."""
    processes = []

    def start(url: str, token: str) -> str:
        (tmp_path / "alertmanager.yml").write_text(CONFIG.format(url=url, token=token))
        port = free_port()
        log = open(tmp_path / "alertmanager.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(base), what=f"Alertmanager ready ({tmp_path / 'alertmanager.log'})")
        return base

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/-/ready", timeout=1) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


def wait_for(condition, *, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def post_alerts(base: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + "/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200


def alert(instance: str, starts: dt.datetime, ends: dt.datetime | None = None, severity="warning") -> dict:
    body = {
        "labels": {"alertname": "DiskFull", "instance": instance, "severity": severity, "service": "Storage"},
        "annotations": {"summary": "Disk almost full", "description": f"/var on {instance} is 95 % full"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
    }
    if ends is not None:
        body["endsAt"] = ends.isoformat().replace("+00:00", "Z")
    return body


def applied(integration) -> list[WebhookDelivery]:
    drain_inbox()
    return list(WebhookDelivery.objects.filter(integration=integration, outcome__in=["processed", "ignored"]))


@pytest.mark.parametrize("grouping", [Integration.Grouping.ALERT, Integration.Grouping.GROUP])
def test_alertmanager_opens_groups_and_resolves_after_a_resend(live_server, alertmanager, grouping):
    team = factories.TeamFactory()
    storage = factories.ServiceFactory(team=team, name="Storage", slug="storage")
    integration = create_integration(team=team, source=Integration.Source.ALERTMANAGER)
    integration.grouping = grouping
    integration.save(update_fields=["grouping"])
    switch = Switch(live_server.url)
    try:
        base = alertmanager(f"{switch.url}/hooks/{integration.public_id}/", integration.bearer_token)
        starts = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)
        post_alerts(base, [alert("db-1:9100", starts, severity="critical"), alert("db-2:9100", starts)])

        # OpsKaizen is down: Alertmanager's sends are answered 503, nothing is stored.
        wait_for(lambda: switch.refused >= 2, what="Alertmanager to send, and retry")
        assert not WebhookDelivery.objects.filter(integration=integration).exists()
        switch.up = True  # back: the resend is accepted
        wait_for(lambda: len(applied(integration)) >= 1, what="the resent notification")

        def incidents():
            return list(Incident.objects.filter(team=team, source="alertmanager").order_by("external_id"))

        expected = 2 if grouping == Integration.Grouping.ALERT else 1
        wait_for(lambda: len(incidents()) == expected, what=f"{expected} incidents")
        incidents_now = incidents()
        assert {(i.status, i.service_id, i.title) for i in incidents_now} == {("open", storage.pk, "Disk almost full")}
        assert all(i.started_at == starts and i.fingerprint for i in incidents_now)
        if grouping == Integration.Grouping.GROUP:
            assert incidents_now[0].severity == "SEV1"  # the group's highest
        else:
            assert sorted(i.severity for i in incidents_now) == ["SEV1", "SEV3"]
            assert len({i.fingerprint for i in incidents_now}) == 2

        ends = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).replace(microsecond=0)
        post_alerts(base, [alert("db-1:9100", starts, ends, "critical"), alert("db-2:9100", starts, ends)])
        wait_for(
            lambda: applied(integration) and [i.status for i in incidents()] == ["resolved"] * expected,
            what="the resolved notification",
        )
        assert {i.resolved_at for i in incidents()} == {ends}
        assert Incident.objects.filter(team=team).count() == expected  # a resend never duplicates
        assert not WebhookDelivery.objects.filter(integration=integration, outcome="failed").exists()
    finally:
        switch.close()
