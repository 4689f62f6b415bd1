"""Publishing Celery tasks from a web request or a task: short retries, and a dead broker never raises."""

import logging

from core import outage_log

logger = logging.getLogger(__name__)

# A short publish retry: a web request must not hang on a dead broker.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def task_named(name: str):
    """The registered Celery task called `name`: a module that publishes a task needs no import of it."""
    from celery import current_app

    if name not in current_app.tasks:
        # A web process has not imported the apps' tasks modules yet (only a worker does at start).
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def enqueue(task, *args) -> bool:
    """Queue `task(*args)` (a task or its registered name); False (logged, never raised) when the broker
    cannot be reached."""
    if isinstance(task, str):
        task = task_named(task)
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except Exception as exc:  # kombu.OperationalError, redis errors, OSError: all mean "broker unreachable"
        # One warning when the broker goes away and one when it answers again, not one per publish.
        outage_log.broker.failed(
            logger, "broker unavailable, %s%r not queued (its scheduled sweep picks it up): %s", task.name, args, exc
        )
        return False
    outage_log.broker.answered(logger)
    return True
