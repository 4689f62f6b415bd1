"""The background import: a large file's dry run or import, run by a worker (docs/import.md)."""

from celery import shared_task

from imports import services
from imports.models import ImportRun


@shared_task(name="imports.execute", acks_late=True)
def execute_import(run_id: int) -> None:
    """Execute the run claimed by the page; a redelivered message re-runs it (the last one rolled back)."""
    run = ImportRun.objects.filter(pk=run_id, state__in=[ImportRun.State.CHECKING, ImportRun.State.IMPORTING]).first()
    if run is not None:
        services.execute(run=run)
