"""The Check's beat task: the product measures actions whose observation window has ended."""

import logging

from celery import shared_task
from django.db import DatabaseError

from improvement import checks

logger = logging.getLogger(__name__)


@shared_task(
    name="improvement.measure_checks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=3,
)
def measure_checks() -> int:
    """Idempotent: each action is measured once per window, under its row lock (two beats are harmless)."""
    measured = checks.compute_due_checks()
    if measured:
        logger.info("measured %s check(s): %s", len(measured), [check.action_id for check in measured])
    return len(measured)
