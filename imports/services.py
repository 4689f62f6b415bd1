"""Importing incidents and changes from a CSV file: upload, settings, dry run, import.

Rows go, 500 at a time, through the batch form of the incident and change upserts by source +
external id (incidents.bulk): each row is validated by the same rules as one logged through the
API, the recurrence check sees the batch, the metrics and the Check baselines count it, and the
audit log has one entry for the import (who, file, counts) rather than one per row.
The whole file is one transaction: a dry run, or an import with refused rows (unless the
lead chose to skip them), is rolled back and leaves nothing behind.
"""

import zoneinfo

from auditlog.models import LogEntry
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from imports import csvfile, fields
from imports.models import ImportMapping, ImportRun, Kind
from incidents import bulk
from teams.models import Service, Team

PROGRESS_EVERY = 500


def progress_key(run_id: int) -> str:
    return f"import-progress:{run_id}"


def progress_of(run: ImportRun) -> int:
    """Rows done so far by the run in progress (the worker's transaction is not visible until it ends)."""
    return cache.get(progress_key(run.pk), 0) if run.in_progress else run.rows


def runs_in_background(run: ImportRun) -> bool:
    return run.rows > settings.OPSKAIZEN_IMPORT_BACKGROUND_ROWS


def saved_mapping(*, team: Team, kind: str, source: str) -> ImportMapping | None:
    return ImportMapping.objects.filter(team=team, kind=kind, source=source).first()


def upload(*, team: Team, by, kind: str, source: str, file_name: str, content: bytes) -> ImportRun:
    """Read the file's header (refused over the limits, or unreadable) and keep it for the dry run."""
    errors = {}
    if kind not in Kind.values:
        errors["kind"] = _("Choose incidents or changes.")
    source = source.strip().lower()
    if not source or len(source) > 40:
        errors["source"] = _("Name the source in 1 to 40 characters (jira, servicenow, spreadsheet…).")
    if errors:
        raise ValidationError(errors)
    header, rows, encoding, delimiter = csvfile.read(content)
    mapping = saved_mapping(team=team, kind=kind, source=source)
    return ImportRun.objects.create(
        team=team,
        by=by,
        kind=kind,
        source=source,
        file_name=file_name[:255],
        content=content,
        size=len(content),
        encoding=encoding,
        delimiter=delimiter,
        header=header,
        rows=len(rows),
        columns=fields.guess_columns(kind, header, mapping.columns if mapping else None),
        values=mapping.values if mapping else {},
        timezone=mapping.timezone if mapping else team.timezone,
        month_first=mapping.month_first if mapping else False,
    )


def configure(
    *, run: ImportRun, columns: dict, values: dict, timezone_name: str, month_first: bool, skip_refused: bool
) -> ImportRun:
    """Set how the run reads its file, and remember it for the next file from the same source."""
    if run.in_progress or run.state == ImportRun.State.IMPORTED:
        raise ValidationError({NON_FIELD_ERRORS: _("This import has already run.")})
    errors = {}
    columns = {field: column for field, column in columns.items() if column}
    for field, column in columns.items():
        if field not in fields.ORDER[run.kind]:
            errors[field] = _("Unknown field.")
        elif column not in run.header:
            errors[field] = _("The file has no column “%(column)s”.") % {"column": column}
    for field in fields.REQUIRED[run.kind]:
        if field not in columns:
            errors[field] = _("Choose the column that holds this field.")
    for field, words in values.items():
        allowed = fields.CHOICES.get(field)
        if field == "service":
            allowed = set(Service.objects.filter(team=run.team).values_list("slug", flat=True)) | {""}
        bad = sorted(word for word, value in words.items() if allowed is None or value not in allowed)
        if bad:
            errors[f"values_{field}"] = _("No such value for: %(words)s.") % {"words": ", ".join(bad)}
    if timezone_name not in zoneinfo.available_timezones():
        errors["timezone"] = _("%(value)s is not a known IANA time zone.") % {"value": timezone_name}
    if errors:
        raise ValidationError(errors)
    run.columns, run.values, run.timezone = columns, values, timezone_name
    run.month_first, run.skip_refused = month_first, skip_refused
    run.save(update_fields=["columns", "values", "timezone", "month_first", "skip_refused"])
    ImportMapping.objects.update_or_create(
        team=run.team,
        kind=run.kind,
        source=run.source,
        defaults={"columns": columns, "values": values, "timezone": timezone_name, "month_first": month_first},
    )
    return run


def _write(run: ImportRun, chunk: list[tuple[int, dict]], counts: dict, refusals: list) -> None:
    """Upsert a chunk of read rows in one batch (incidents.bulk), counting each row's outcome."""
    if not chunk:
        return
    rows = [row for _line, row in chunk]
    if run.kind == Kind.INCIDENTS:
        outcomes = bulk.upsert_incidents_by_ref(team=run.team, source=run.source, rows=rows, by=run.by)
    else:
        outcomes = bulk.upsert_changes_by_ref(team=run.team, source=run.source, rows=rows)
    for (line, _row), outcome in zip(chunk, outcomes, strict=True):
        if outcome.errors:
            refusals.append((line, outcome.errors))
        else:
            counts["created" if outcome.created else "updated"] += 1


def start(*, run: ImportRun, dry_run: bool) -> bool:
    """Mark the run as in progress unless it already is (a conditional UPDATE: two clicks run it once)."""
    state = ImportRun.State.CHECKING if dry_run else ImportRun.State.IMPORTING
    allowed = [ImportRun.State.UPLOADED, ImportRun.State.CHECKED, ImportRun.State.REFUSED, ImportRun.State.FAILED]
    if not dry_run:
        allowed.remove(ImportRun.State.UPLOADED)  # an import comes after a dry run
    claimed = ImportRun.objects.filter(pk=run.pk, state__in=allowed).update(state=state)
    if claimed:
        run.state = state
        cache.set(progress_key(run.pk), 0, timeout=24 * 3600)
    return bool(claimed)


def execute(*, run: ImportRun) -> ImportRun:
    """Read every row through the services in one transaction; keep it only for an import that may.

    Counts what was (or would be) created, updated and refused, with the first refused rows and
    why (line number, field, column). The run was claimed with `start()`, which says which it is.
    """
    if not run.in_progress:
        raise ValidationError({NON_FIELD_ERRORS: _("This import is not in progress.")})
    dry_run = run.state == ImportRun.State.CHECKING
    header, rows, _encoding, _delimiter = csvfile.read(bytes(run.content))
    reader = fields.RowReader(
        kind=run.kind,
        header=header,
        columns=run.columns,
        values=run.values,
        services=list(Service.objects.filter(team=run.team)),
        tz=run.timezone,
        month_first=run.month_first,
    )
    counts = {"created": 0, "updated": 0}
    refusals: list[tuple[int, dict]] = []  # (line, {field: message}) of every refused row
    try:
        with transaction.atomic():
            chunk: list[tuple[int, dict]] = []
            for done, (line, cells) in enumerate(rows, start=1):
                row, errors = reader.read(cells)
                if errors:
                    refusals.append((line, errors))
                else:
                    chunk.append((line, row))
                if len(chunk) == bulk.BATCH:
                    _write(run, chunk, counts, refusals)
                    chunk = []
                if done % PROGRESS_EVERY == 0:
                    cache.set(progress_key(run.pk), done, timeout=24 * 3600)
            _write(run, chunk, counts, refusals)
            keep = not dry_run and (not refusals or run.skip_refused)
            if not keep:
                transaction.set_rollback(True)
    except Exception as exc:
        ImportRun.objects.filter(pk=run.pk).update(
            state=ImportRun.State.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    created, updated, refused = counts["created"], counts["updated"], len(refusals)
    refused_rows = [
        {
            "line": line,
            "errors": [
                {"field": name, "column": reader.column_of(name), "message": message}
                for name, message in errors.items()
            ],
        }
        for line, errors in sorted(refusals, key=lambda refusal: refusal[0])[: fields.MAX_REFUSED_SHOWN]
    ]
    run.created, run.updated, run.refused, run.refused_rows = created, updated, refused, refused_rows
    run.error = ""
    run.finished_at = timezone.now()
    if dry_run:
        run.state = ImportRun.State.CHECKED
    elif keep:
        run.state = ImportRun.State.IMPORTED
        run.content = b""  # the rows are in the database now; the file is not kept
    else:
        run.state = ImportRun.State.REFUSED
    run.save()
    cache.delete(progress_key(run.pk))
    if not dry_run:
        _audit(run)
    return run


def _audit(run: ImportRun) -> None:
    """The import in the team's audit log: who, which file, what it did."""
    if run.state == ImportRun.State.IMPORTED:
        reason = _("imported %(kind)s from %(file)s (source %(source)s): %(created)s created, %(updated)s updated")
        if run.refused:
            reason += _(", %(refused)s refused rows skipped")
    else:
        reason = _(
            "import of %(kind)s from %(file)s (source %(source)s) refused, nothing written: %(refused)s refused rows"
        )
    LogEntry.objects.log_create(
        run,
        force_log=True,
        action=LogEntry.Action.CREATE,
        actor=run.by,
        additional_data={
            "team_id": run.team_id,
            "reason": reason
            % {
                "kind": run.get_kind_display(),
                "file": run.file_name,
                "source": run.source,
                "created": run.created,
                "updated": run.updated,
                "refused": run.refused,
            },
        },
    )


def run_now(*, run: ImportRun, dry_run: bool) -> ImportRun:
    """Claim and execute the run in this process (the command, a small file on the page)."""
    if not start(run=run, dry_run=dry_run):
        raise ValidationError({NON_FIELD_ERRORS: _("This import is already running, or has run.")})
    return execute(run=run)
