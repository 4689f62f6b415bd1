"""Real processes for the supervision tests: services run as operators run them, read through /proc.

Every process a test starts gets its own session (start_new_session), so the test can find all
its descendants (same session id) and kill them all at the end, whatever happened.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.support import ThrowawayRedis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin: celery, gunicorn, supervisord


class Proc:
    """One line of /proc: a process's ids and command line."""

    def __init__(self, pid: int):
        self.pid = pid
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        self.state, self.ppid, self.pgid, self.sid = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
        self.cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()

    def __repr__(self) -> str:
        return f"<{self.pid} ppid={self.ppid} pgid={self.pgid} sid={self.sid} {self.state} {self.cmdline[:100]!r}>"


def processes() -> list[Proc]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                found.append(Proc(int(entry.name)))
    return found


def in_session(sid: int) -> list[Proc]:
    """The live processes of a session (zombies, already dead, left out)."""
    return [p for p in processes() if p.sid == sid and p.state != "Z"]


def in_group(pgid: int) -> list[Proc]:
    return [p for p in processes() if p.pgid == pgid and p.state != "Z"]


def kill_session(sid: int) -> None:
    for proc in in_session(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def celery_processes(sid: int, role: str) -> list[Proc]:
    """The main processes of `celery … worker` or `celery … beat` in a session (not pool children)."""
    found = [p for p in in_session(sid) if re.search(rf"celery .*-A config {role}\b", p.cmdline)]
    pids = {p.pid for p in found}
    return [p for p in found if p.ppid not in pids]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


def log_count(path: Path, pattern: str) -> int:
    try:
        return len(re.findall(pattern, path.read_text(errors="replace")))
    except FileNotFoundError:
        return 0


class Service:
    """A command in its own session, logging to a file; `stop()` kills the whole session."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict, cwd: Path = ROOT):
        self.name, self.log = name, log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.text())) >= count:
                return
            if not self.alive():
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.text()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} ×{count} in the {self.name} log after {timeout}s:\n{self.text()[-4000:]}")

    def stop(self) -> None:
        kill_session(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class PersistentRedis(ThrowawayRedis):
    """The throwaway redis-server with an append-only file, as a production Redis keeps its data:
    what was queued or unacknowledged before the outage is still there when it comes back."""

    def start(self) -> None:
        data = self.log.parent / f"redis-data-{self.port}"
        data.mkdir(exist_ok=True)
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                 "--appendfsync", "always", "--dir", str(data), "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        import redis

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(redis.RedisError):
                return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
            return False

        wait_for(answers, 10, "the throwaway redis-server answers")


def service_env(**overrides) -> dict:
    """This environment with the virtualenv first on PATH; overrides given as None are removed."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env
