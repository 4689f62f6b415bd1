"""Celery tasks for the rituals: thin, idempotent, ids not instances, acknowledged late.

- ``improvement.tick`` (beat, every minute): repair schedules, open due sessions, queue this
  period's reminders, re-queue notifications whose task was lost. All its state is in the
  database, so running it twice, late, or after a crash does the work once.
- ``improvement.send_notification``: deliver one logged notification; transient failures
  retry with exponential backoff.

``enqueue`` is how any code (web requests included) queues a task: when the broker (Redis) is
down it logs a warning and returns False instead of raising, and the tick picks the work up.
"""

import logging

from celery import shared_task
from django.db import DatabaseError

from config import outage_log
from improvement import notifications, rituals

logger = logging.getLogger(__name__)

# A short publish retry: a web request must not hang on a dead broker.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue(task, *args) -> bool:
    """Queue `task(*args)`; False (logged, never raised) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception as exc:  # kombu.OperationalError, redis errors, OSError: all mean "broker unreachable"
        outage_log.broker.failed(
            logger, "broker unavailable, %s%r not queued (the tick will pick it up): %s", task.name, args, exc
        )
        return False
    outage_log.broker.answered(logger)
    return True


@shared_task(
    name="improvement.tick",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=3,
)
def tick() -> None:
    opened = rituals.run_tick()
    notifications.publish(notifications.queue_reminders())
    notifications.publish(notifications.stale_notification_ids())
    if opened:
        logger.info("tick: opened sessions %s", opened)


@shared_task(
    name="improvement.send_notification",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # deliver() counts attempts and gives up (status failed) itself
)
def send_notification(self, notification_id: int) -> str:
    try:
        return notifications.deliver(notification_id)
    except notifications.RetryLater as exc:
        raise self.retry(exc=exc, countdown=notifications.backoff_seconds(exc.attempts)) from exc
