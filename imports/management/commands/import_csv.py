"""Import incidents or changes from a CSV file: the same engine as the lead's page (docs/import.md).

manage.py import_csv incidents export.csv --team ops --source jira --user alice --dry-run
"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from imports import services
from imports.models import ImportRun, Kind
from teams.models import Team


def _pairs(values: list[str], what: str) -> dict:
    pairs = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key:
            raise CommandError(f"{what} must read NAME=VALUE, not {value!r}")
        pairs[key.strip()] = target.strip()
    return pairs


class Command(BaseCommand):
    help = "Import incidents or changes from a CSV file (dry run first with --dry-run)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=Kind.values)
        parser.add_argument("file", type=Path)
        parser.add_argument("--team", required=True, help="the team's slug")
        parser.add_argument("--source", required=True, help="jira, servicenow, spreadsheet… (part of each record's id)")
        parser.add_argument("--user", help="who imports (the audit log's actor); a lead of the team")
        parser.add_argument("--column", action="append", default=[], metavar="FIELD=COLUMN", help="map a column")
        parser.add_argument(
            "--value", action="append", default=[], metavar="FIELD:WORD=VALUE", help="map a word, e.g. severity:P0=SEV1"
        )
        parser.add_argument("--timezone", help="time zone of times without an offset (default: the saved mapping's)")
        parser.add_argument("--month-first", action="store_true", help="read 03/12/2024 as 12 March")
        parser.add_argument("--skip-refused", action="store_true", help="write the good rows, skip the refused ones")
        parser.add_argument("--dry-run", action="store_true", help="count and report, write nothing")

    def handle(self, *args, **options):
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            raise CommandError(f"No team {options['team']!r}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        try:
            run = services.upload(
                team=team,
                by=user,
                kind=options["kind"],
                source=options["source"],
                file_name=path.name,
                content=path.read_bytes(),
            )
            values = dict(run.values)
            for key, target in _pairs(options["value"], "--value").items():
                field, sep, word = key.partition(":")
                if not sep:
                    raise CommandError(f"--value must read FIELD:WORD=VALUE, not {key!r}")
                values.setdefault(field, {})[word] = target
            services.configure(
                run=run,
                columns={**run.columns, **_pairs(options["column"], "--column")},
                values=values,
                timezone_name=options["timezone"] or run.timezone,
                month_first=options["month_first"] or run.month_first,
                skip_refused=options["skip_refused"],
            )
            self.stdout.write(
                f"{path.name}: {run.rows} rows, {run.encoding}, separator {run.delimiter!r}, "
                f"time zone {run.timezone}\ncolumns: {json.dumps(run.columns, ensure_ascii=False)}"
            )
            run = services.run_now(run=run, dry_run=True)
            if not options["dry_run"]:
                run = services.run_now(run=run, dry_run=False)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        self._report(run, dry_run=options["dry_run"])
        if run.state == ImportRun.State.REFUSED:
            raise CommandError("Nothing was written (all or nothing); fix the rows or pass --skip-refused.")

    def _report(self, run: ImportRun, *, dry_run: bool) -> None:
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            f"{run.created} {verb} created, {run.updated} {verb} updated, {run.refused} refused ({run.state})"
        )
        for row in run.refused_rows:
            for error in row["errors"]:
                column = f" (column {error['column']!r})" if error["column"] else ""
                self.stdout.write(f"  line {row['line']}: {error['field']}{column}: {error['message']}")
        if run.refused > len(run.refused_rows):
            self.stdout.write(f"  … and {run.refused - len(run.refused_rows)} more refused rows")
