"""Celery tasks of the reporting app."""

from celery import shared_task

from reporting import dashboards


@shared_task(name="reporting.refresh_dashboards", acks_late=True, ignore_result=True)
def refresh_dashboards() -> int:
    """Beat, every minute: the default dashboards teams look at, computed ahead (reporting/dashboards.py)."""
    return dashboards.refresh()
