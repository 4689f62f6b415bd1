"""The webhook drain: queued deliveries applied per second by one and by two worker processes, and memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opskaizen_bench python bench/drain_bench.py \\
        --baseline var/bench/ingest.json --json var/bench/drain.json

Queues --count generic incident deliveries of a new incident each (as the intake stores them:
a signed body, queued; written here with one COPY-sized bulk INSERT, since the intake's own speed
is the ingest benchmark's), each carrying its event time (`occurred_at`), as vendors' do. Then:

- one process: a fresh Python process runs `drain_inbox` (what the Celery task
  teams.drain_webhooks runs) until the queue is empty; its rate and its peak resident memory
  (VmHWM) are reported (target: under 300 MB for 100 000 deliveries);
- two processes: the same count queued again, two processes started together drain it; the rate
  is all deliveries over the wall time until both are done, and each process's share is shown.

The ratio is to the bare insert of the ingest benchmark of the same run (`--baseline`, its
`baseline.rps`: a minimal view doing one INSERT per request); target >= 70 % for one process.
Every delivery is checked processed and every incident made.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

from _django import ROOT, setup


def prepare():
    from integrations import services as integration_services
    from integrations.models import Integration
    from teams import services
    from teams.models import Team

    team = Team.objects.filter(slug="bench-drain").first() or services.create_team(
        name="Bench drain", slug="bench-drain"
    )
    integration = Integration.objects.filter(team=team, source="generic").first()
    return integration or integration_services.create_integration(team=team, source="generic")


def queue(integration, count: int, run: str) -> None:
    """`count` queued deliveries, each a new incident with its event time, in batches of 5 000 rows."""
    from integrations.models import WebhookDelivery

    headers = {"Content-Type": "application/json", "X-OpsKaizen-Timestamp": str(int(time.time()))}
    rows = []
    for n in range(count):
        ref = f"{run}-{n}"
        body = {
            "id": ref,
            "type": "incident",
            "occurred_at": "2026-11-27T04:00:00Z",
            "data": {
                "external_id": ref,
                "title": f"Drain bench {ref}",
                "severity": "SEV3",
                "started_at": "2026-11-27T04:00:00Z",
            },
        }
        rows.append(
            WebhookDelivery(
                integration=integration,
                team_id=integration.team_id,
                vendor_delivery_id=ref,
                event="incident",
                headers=headers,
                body=json.dumps(body),
                outcome=WebhookDelivery.Outcome.QUEUED,
            )
        )
    WebhookDelivery.objects.bulk_create(rows, batch_size=5000)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident, teams_webhookdelivery, auditlog_logentry")


def peak_resident_mb() -> float:
    """This process's peak resident memory: VmHWM of /proc/self/status.

    Not getrusage's ru_maxrss: Linux carries the parent's peak over into a child across exec, and
    the parent has just built the queued rows.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker() -> None:
    """One drain process: apply until the queue is empty; print applied, seconds and peak memory as JSON."""
    setup()
    from django.db import connection

    from integrations.webhooks.processing import drain_inbox

    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()  # go
    started = time.perf_counter()
    applied = 0
    while True:
        done = drain_inbox(budget_seconds=3600)
        applied += done
        if not done:
            break
    seconds = time.perf_counter() - started
    peak_mb = peak_resident_mb()
    print(json.dumps({"applied": applied, "seconds": seconds, "peak_mb": peak_mb}), flush=True)


def run_workers(processes: int) -> list[dict]:
    """Start `processes` drain processes, let them go at once, and collect their figures."""
    env = dict(os.environ, DEBUG="false", PYTHONPATH=str(ROOT))
    started = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for process in started:
        if process.stdout.readline().strip() != "ready":
            sys.exit("a drain process did not start")
    begin = time.perf_counter()
    for process in started:
        process.stdin.write("go\n")
        process.stdin.flush()
    figures = []
    for process in started:
        out, _err = process.communicate(timeout=3600)
        if process.returncode:
            sys.exit(f"a drain process exited with {process.returncode}")
        figures.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - begin
    for figure in figures:
        figure["wall"] = wall
    return figures


def check(integration, run: str, count: int) -> None:
    from incidents.models import Incident
    from integrations.models import WebhookDelivery

    mine = WebhookDelivery.objects.filter(integration=integration, vendor_delivery_id__startswith=f"{run}-")
    processed = mine.filter(outcome="processed").count()
    made = Incident.objects.filter(
        team_id=integration.team_id, source="generic", external_id__startswith=f"{run}-"
    ).count()
    if processed != count or made != count:
        sys.exit(f"drain: {count} queued, {processed} processed, {made} incidents made")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--count", type=int, default=100_000, help="deliveries queued per measurement (default 100 000)"
    )
    parser.add_argument("--baseline", help="the ingest benchmark's --json file of the same run (its bare insert rate)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    setup()
    from integrations.models import WebhookDelivery

    integration = prepare()
    if WebhookDelivery.objects.filter(integration=integration, outcome="queued").exists():
        sys.exit("bench-drain has queued deliveries from an interrupted run: drain or delete them first")
    baseline = None
    if args.baseline and os.path.exists(args.baseline):
        with open(args.baseline) as figures:
            baseline = json.load(figures)["baseline"]["rps"]
    results = {}
    for name, processes in (("one", 1), ("two", 2)):
        run = f"drain-{uuid.uuid4().hex[:8]}"
        queue(integration, args.count, run)
        analyze()
        figures = run_workers(processes)
        check(integration, run, args.count)
        wall = figures[0]["wall"]
        rate = args.count / wall
        results[name] = {
            "processes": processes,
            "applied": [f["applied"] for f in figures],
            "seconds": wall,
            "rate": rate,
            "peak_mb": max(f["peak_mb"] for f in figures),
            "ratio": rate / baseline if baseline else None,
        }
    results["baseline_rps"] = baseline
    print(f"drain of {args.count} queued generic deliveries (each a new incident, with its event time), PostgreSQL")
    print(f"{'processes':<10} {'applied each':<16} {'seconds':>8} {'per s':>8} {'peak MB':>8} {'vs bare insert':>15}")
    for name in ("one", "two"):
        row = results[name]
        ratio = f"{row['ratio']:.0%}" if row["ratio"] else "n/a"
        applied = "+".join(str(n) for n in row["applied"])
        print(
            f"{row['processes']:<10} {applied:<16} {row['seconds']:>8.1f} {row['rate']:>8.0f} "
            f"{row['peak_mb']:>8.0f} {ratio:>15}"
        )
    print(f"bare insert (ingest benchmark, same run): {baseline:.0f} req/s" if baseline else "no --baseline given")
    print("targets: one process >= 70 % of the bare insert; peak memory < 300 MB for 100 000 deliveries")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
