"""Pauses that let a fault test SIGKILL a real worker at a chosen point; inert unless a test asks.

A variable such as OPSKAIZEN_TEST_TICK_PAUSE holds "<where>:<seconds>[:<file>]": the code point
named `where` sleeps that long; with a file, only the first process to get there pauses (it
creates the file). The variables are unset in production: the hook is then one environ lookup.
"""

import logging
import os
import time

logger = logging.getLogger("opskaizen.faults")


def pause_if_asked(variable: str, where: str) -> None:
    spec = os.environ.get(variable, "")
    where_, _sep, rest = spec.partition(":")
    if not spec or where_ != where:
        return
    seconds, _sep, once_file = rest.partition(":")
    if once_file:
        try:
            with open(once_file, "x"):
                pass
        except FileExistsError:
            return
    logger.warning("pausing %.0fs %s in pid %s (%s)", float(seconds), where, os.getpid(), variable)
    time.sleep(float(seconds))
