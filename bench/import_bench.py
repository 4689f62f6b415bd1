"""CSV import throughput: the import engine (dry run, import, re-import) vs a bare bulk insert of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opskaizen_bench python bench/import_bench.py --rows 100000

Writes a Jira-shaped export (UTF-8 with BOM, comma, Jira dates, one of 20 components per row,
four in five rows resolved) of --rows incidents for team `bench-import` (its incidents, runs
and mappings are deleted first; no other team is touched), then times, in this process:

- upload: size check, decoding, separator, header and row count, column guesses;
- dry run: every row through incidents.services.upsert_incident_by_ref, rolled back;
- import: the same, kept (audit log entries and the after-commit recurrence check included);
- re-import: the same file again (every row an update);
- baseline: Incident.objects.bulk_create of the same rows (no validation, no audit, one INSERT
  per 1000 rows) into team `bench-import-baseline`.

It checks the counts (every row created, then updated; the database holds --rows incidents)
and prints each step's time, rows per second and its ratio to the baseline. See bench/README.md.
"""

import argparse
import csv
import datetime as dt
import io
import random
import sys
import time

import _django

_django.setup()

from django.db import transaction  # noqa: E402

from imports import services  # noqa: E402
from imports.models import ImportMapping, ImportRun  # noqa: E402
from incidents.models import Incident  # noqa: E402
from teams.models import Service, Team  # noqa: E402

PRIORITIES = ["Highest", "High", "Medium", "Low"]
STATUSES = ["Resolved", "Closed", "Done", "In Progress", "Resolved"]


def export(rows: int, components: list[str]) -> bytes:
    random.seed(7)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Summary", "Issue key", "Issue id", "Issue Type", "Status", "Priority", "Created", "Resolved",
                     "Component/s", "Description"])  # fmt: skip
    start = dt.datetime(2024, 1, 1, 8, 0)
    for n in range(rows):
        created = start + dt.timedelta(minutes=7 * n)
        status = STATUSES[n % len(STATUSES)]
        resolved = created + dt.timedelta(minutes=random.randint(5, 600)) if status != "In Progress" else None
        writer.writerow([
            f"Incident {n}: {random.choice(['timeouts', '5xx', 'latency', 'disk full'])}",
            f"OPS-{n + 1}", 10000 + n, "Incident", status, random.choice(PRIORITIES),
            created.strftime("%d/%b/%y %I:%M %p"), resolved.strftime("%d/%b/%y %I:%M %p") if resolved else "",
            components[n % len(components)], "Gateway pool exhausted; rolled back.",
        ])  # fmt: skip
    return "\ufeff".encode() + out.getvalue().encode()


def check(ok: bool, *what) -> None:
    if not ok:
        sys.exit(f"MISMATCH {what}")


def timed(label, fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    team, _ = Team.objects.get_or_create(slug="bench-import", defaults={"name": "Bench import", "timezone": "UTC"})
    baseline_team, _ = Team.objects.get_or_create(slug="bench-import-baseline", defaults={"name": "Bench baseline"})
    for t in (team, baseline_team):
        Incident.objects.filter(team=t).delete()
        ImportRun.objects.filter(team=t).delete()
        ImportMapping.objects.filter(team=t).delete()
    components = [f"Service {n:02d}" for n in range(20)]
    for n, name in enumerate(components):
        Service.objects.get_or_create(team=team, slug=f"svc-{n:02d}", defaults={"name": name})
    content = export(args.rows, components)
    print(f"{args.rows} rows, {len(content) / 1e6:.1f} MB (Jira-shaped, UTF-8 with BOM)")

    def run_once():
        run = services.upload(
            team=team, by=None, kind="incidents", source="jira", file_name="bench.csv", content=content
        )
        return run

    run, t_upload = timed("upload", run_once)
    run, t_dry = timed("dry run", lambda: services.run_now(run=run, dry_run=True))
    check((run.created, run.refused) == (args.rows, 0), run.created, run.refused, run.refused_rows[:3])
    run, t_import = timed("import", lambda: services.run_now(run=run, dry_run=False))
    check((run.state, run.created) == ("imported", args.rows), run.state, run.created)
    again = run_once()
    # The same file again, without its dry run (measured above): straight to the import.
    ImportRun.objects.filter(pk=again.pk).update(state=ImportRun.State.CHECKED)
    again.state = ImportRun.State.CHECKED
    again, t_again = timed("re-import", lambda: services.run_now(run=again, dry_run=False))
    check((again.created, again.updated) == (0, args.rows), again.created, again.updated)
    check(Incident.objects.filter(team=team).count() == args.rows, "incident count")

    def baseline():
        rows = [
            Incident(team=baseline_team, title=i.title, severity=i.severity, status=i.status, started_at=i.started_at,
                     detected_at=i.detected_at, resolved_at=i.resolved_at, mitigated_at=i.mitigated_at,
                     source="jira", external_id=i.external_id, summary=i.summary)
            for i in Incident.objects.filter(team=team).iterator(chunk_size=5000)
        ]  # fmt: skip
        began = time.perf_counter()
        with transaction.atomic():
            Incident.objects.bulk_create(rows, batch_size=1000)
        return time.perf_counter() - began

    t_base = baseline()
    print(f"{'step':<34}{'seconds':>9}{'rows/s':>10}{'× baseline':>12}")
    for label, seconds in (
        ("upload (read, count, guess)", t_upload),
        ("dry run (all rows, rolled back)", t_dry),
        ("import (created)", t_import),
        ("re-import (updated)", t_again),
        ("baseline: bulk_create", t_base),
    ):
        print(f"{label:<34}{seconds:>9.1f}{args.rows / seconds:>10.0f}{seconds / t_base:>12.1f}")


if __name__ == "__main__":
    main()
