"""Incident ingest under load: the real upsert endpoint vs a minimal Django view doing the same insert.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opskaizen_bench2 python bench/ingest_bench.py

Starts gunicorn on 127.0.0.1 (DEBUG off, gthread workers, the same settings for both
sides; OPSKAIZEN_BENCH_BASELINE=1 mounts the baseline view at /bench-baseline/ for
this server only) and drives it with wrk (Debian package `wrk`), one bounded run per
side with the same connections and duration, in the same run:

- api: PUT /api/v1/incidents/by-ref/<source>/<external_id>/ with a read-write API
  token (auth, throttle, serializer, service, audit log, response body);
- baseline: PUT /bench-baseline/<team_id>/<source>/<external_id>/ (json.loads, one INSERT).

Every request carries a new external id, so each is a real insert; the script checks
that every request got a 2xx and that the rows are in the database. It prints req/s,
p50/p99 latency and the ratio api/baseline (target >= 70 %). The API throttle stays on
(its cache round trip is part of the cost) with a rate high enough not to refuse.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from _django import ROOT, setup

LUA = r"""
local threads_seen = 0
function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("tid", threads_seen)
end
local counter = 0
local headers = {}
function init(args)
  headers["Content-Type"] = "application/json"
  if AUTH ~= "" then headers["Authorization"] = AUTH end
end
function request()
  counter = counter + 1
  local ref = RUN .. "-" .. tid .. "-" .. counter
  local body = '{"title": "Load test incident ' .. ref .. '", "severity": "SEV3", '
    .. '"started_at": "2026-11-27T04:00:00Z"}'
  return wrk.format("PUT", PREFIX .. ref .. "/", headers, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(run: str):
    """A team, its lead and a read-write token (created through the services)."""
    from django.contrib.auth import get_user_model

    from teams import services
    from teams.models import ApiToken, Membership, Team

    team = Team.objects.filter(slug="bench-ingest").first() or services.create_team(
        name="Bench ingest", slug="bench-ingest"
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-ingest-lead")
    if not Membership.objects.filter(team=team, user=user).exists():
        services.add_member(team=team, user=user, role=Membership.Role.LEAD)
    _token, key = services.create_api_token(
        team=team, name=f"ingest bench {run}", scope=ApiToken.Scope.READ_WRITE, by=user
    )
    return team, key


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        OPSKAIZEN_BENCH_BASELINE="1",
        API_THROTTLE_RATE=env.get("BENCH_THROTTLE_RATE", "10000000/minute"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--log-level", "warning", "--keep-alive", "5",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    sys.exit("gunicorn did not answer /healthz/ within 30 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, lua: str, *, duration: int, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        cmd = [
            "wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--timeout", "10s", "-s", script.name, url,
        ]  # fmt: skip
        output = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 60).stdout  # noqa: S603
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    latency = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", output, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "requests": total,
        "p50": latency["50"],
        "p99": latency["99"],
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "raw": output,
    }


def lua_for(run: str, prefix: str, auth: str) -> str:
    return f"RUN = {json.dumps(run)}\nPREFIX = {json.dumps(prefix)}\nAUTH = {json.dumps(auth)}\n" + LUA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per side (default 20)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, the machine has 2 cores)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    setup()
    from incidents.models import Incident

    run = uuid.uuid4().hex[:8]
    team, key = prepare(run)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sides = {
        "baseline": (f"/bench-baseline/{team.pk}/benchbase/", "", "benchbase"),
        "api": ("/api/v1/incidents/by-ref/benchapi/", f"Bearer {key}", "benchapi"),
    }
    server = start_server(port, args.workers, args.threads)
    results = {}
    try:
        for prefix, auth, _source in sides.values():  # warm up both (imports, connections)
            run_wrk(base, lua_for(f"{run}w", prefix, auth), duration=2, connections=2, threads=1)
        for name, (prefix, auth, source) in sides.items():
            before = Incident.objects.filter(team=team, source=source).count()
            result = run_wrk(
                base,
                lua_for(run, prefix, auth),
                duration=args.duration,
                connections=args.connections,
                threads=args.wrk_threads,
            )
            result["inserted"] = Incident.objects.filter(team=team, source=source).count() - before
            if result["non_2xx"] or result["inserted"] < result["requests"] - args.connections:
                print(result["raw"])
                sys.exit(f"{name}: {result['non_2xx']} non-2xx responses, {result['inserted']} rows inserted")
            results[name] = result
    finally:
        stop_server(server)

    ratio = results["api"]["rps"] / results["baseline"]["rps"]
    print(
        f"gunicorn gthread {args.workers} workers x {args.threads} threads on 127.0.0.1, wrk {args.connections} "
        f"connections, {args.duration} s per side, DEBUG off, {Incident.objects.count()} incidents in the database"
    )
    print(f"{'side':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'inserted':>9}")
    labels = {
        "baseline": "baseline: minimal view, one INSERT",
        "api": "api: PUT /api/v1/incidents/by-ref/… (token)",
    }
    for name, result in results.items():
        print(
            f"{labels[name]:<44} {result['rps']:>8.1f} {result['p50']:>8.1f} {result['p99']:>8.1f} "
            f"{result['inserted']:>9}"
        )
    print(f"ratio api/baseline: {ratio:.0%}  (target >= 70 %)")
    if args.json:
        figures = {name: {k: v for k, v in r.items() if k != "raw"} for name, r in results.items()}
        with open(args.json, "w") as out:
            json.dump({**figures, "ratio": ratio}, out, indent=2)


if __name__ == "__main__":
    main()
