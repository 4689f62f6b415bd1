"""One warning when a dependency stops answering, one when it answers again: outage logs stay readable.

The web process queues Celery tasks as nudges and takes the webhook nudge key in the cache; when
Redis is down each of those fails, on every request. Logging each failure with its traceback buries
the one fact that matters (Redis is down since 10:42) under thousands of identical lines. So each
dependency here remembers, per process, whether it is down: the first failure is a WARNING (with
the error, no traceback), the repeats are DEBUG, and the first success afterwards is a WARNING
saying how long it was away and how many attempts failed meanwhile. Every gunicorn worker process
keeps its own state, so an outage logs at most one pair of lines per process.
"""

import logging
import threading
import time


class Dependency:
    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, logger: logging.Logger, message: str, *args) -> None:
        """Log `message % args`: a WARNING if the dependency was up until now, else DEBUG."""
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
            self._failures += 1
        if first:
            logger.warning(message + " (until the %s answers again, repeats are logged at DEBUG)", *args, self.name)
        else:
            logger.debug(message, *args)

    def answered(self, logger: logging.Logger) -> None:
        """The dependency just answered: one WARNING if it was down, nothing otherwise (the usual case)."""
        if self._down_since is None:  # read without the lock: the common path costs one attribute lookup
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds, failures = time.monotonic() - self._down_since, self._failures
            self._down_since, self._failures = None, 0
        logger.warning("%s available again after %.0f s (%d failed attempts meanwhile)", self.name, seconds, failures)

    def reset(self) -> None:
        """Forget any outage (tests)."""
        with self._lock:
            self._down_since, self._failures = None, 0


broker = Dependency("broker")
cache = Dependency("cache")
database = Dependency("database")
