"""Fault-injection helpers: a throwaway Redis we may stop, a local webhook receiver, broker switching.

The machine's shared Redis (6379) is never stopped: the outage is played on our own
`redis-server` on port 6390, started and killed by the test.
"""

import contextlib
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

THROWAWAY_PORT = 6390


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    """`redis-server --port 6390` without persistence, in its own process group."""

    def __init__(self, log: Path, port: int = THROWAWAY_PORT):
        if port_in_use(port):  # never adopt (and later stop) a server that is not ours
            port = free_port()
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            time.sleep(0.1)
        raise AssertionError("the throwaway redis-server did not answer in 10 s")

    def stop(self) -> None:
        """The outage: terminate the server and wait until the port refuses connections."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def down(self) -> bool:
        try:
            redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return True
        return False


@contextlib.contextmanager
def celery_broker(url: str, transport_options: dict | None = None):
    """Point this process's Celery app (the web side) at `url`, then back; pools are reset both ways."""
    from kombu import pools

    from config.celery import app

    def reset_pools():
        pools.reset()  # kombu's process-wide pools, keyed by connection: closed and forgotten
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_url, dict(app.conf.broker_transport_options or {})
    reset_pools()
    app.conf.broker_url = url
    app.conf.broker_transport_options = {**saved[1], **(transport_options or {})}
    try:
        yield app
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.broker_transport_options = saved
        reset_pools()


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST on arrival.

    `hold_first` seconds: the first request is recorded, then held that long before its answer
    (the window in which the sender gets killed mid-POST).
    """

    def __init__(self, hold_first: float = 0):
        self.requests: list[tuple[dict, bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if hold_first and len(receiver.requests) == 1:
                    receiver.release.wait(hold_first)
                with contextlib.suppress(OSError):  # the sender may be dead by now
                    self.send_response(200)
                    self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate, timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not met in {timeout}s")


def task_result(worker, task: str, task_id: str, timeout: float = 20) -> str:
    """Wait for `task`[task_id] to succeed on `worker`; its return value as the worker logged it."""
    pattern = rf"Task {re.escape(task)}\[{re.escape(task_id)}\] succeeded in [\d.]+s: (.*)"
    worker.wait_for(pattern, timeout=timeout)
    return re.search(pattern, worker.text()).group(1).strip()
