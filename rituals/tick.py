"""The tick that opens each due review session exactly once.

``run_tick(now)`` is the whole scheduler; beat only triggers it once a minute. Its state lives in
the database (``Ritual.next_occurrence``), so a tick that did not run (Redis, beat or every worker
down) loses nothing: the next one sees the occurrence still due and opens it.

Exactly once, whatever runs twice (two beats, a retried task, a worker killed and restarted):
each due ritual is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` in its own transaction
(another tick skips it instead of waiting), the session is created and the ritual's
``next_occurrence`` advanced in that same transaction, and the unique constraint on
(ritual, occurrence) is the last guard should anything else slip through. An occurrence missed
while everything was down is opened once when it comes back: only the latest due occurrence is
opened, and the next one is computed from now.
"""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.fault_hooks import pause_if_asked
from rituals import agenda, notifications, occurrences, signals
from rituals.models import ReviewSession, Ritual

logger = logging.getLogger(__name__)
# Lets a fault test SIGKILL a real worker mid-tick (core/fault_hooks.py); unset in production.
TICK_PAUSE = "OPSKAIZEN_TEST_TICK_PAUSE"


def refresh_schedules(*, now: dt.datetime) -> int:
    """Recompute next_occurrence of rituals whose schedule changed around Ritual.save().

    Ritual.save() keeps next_occurrence in step, but a ritual written by bulk_create, a
    queryset update or a raw import has a NULL or stale value: the tick repairs it here, so no
    single code path has to be trusted. Returns how many rituals were repaired.
    """
    repaired = 0
    fields = ["id", "weekday", "time_of_day", "rrule", "timezone", "active", "next_occurrence", "schedule_key"]
    for ritual in Ritual.objects.only(*fields, "created_at"):
        needs = ritual.schedule_key != ritual.current_schedule_key() or (
            ritual.active and ritual.next_occurrence is None
        )
        if not needs:
            continue
        old_key, old_next = ritual.schedule_key, ritual.next_occurrence
        ritual.next_occurrence = None
        ritual.refresh_next_occurrence(now=now)
        if (ritual.next_occurrence, ritual.schedule_key) == (old_next, old_key):
            continue  # an ended rule: nothing to repair
        # Conditional UPDATE: a concurrent save or tick that got there first wins, we do not overwrite it.
        repaired += Ritual.objects.filter(pk=ritual.pk, schedule_key=old_key, next_occurrence=old_next).update(
            next_occurrence=ritual.next_occurrence, schedule_key=ritual.schedule_key
        )
    return repaired


def open_session(*, ritual: Ritual, now: dt.datetime) -> ReviewSession | None:
    """Open the session of the ritual's latest due occurrence and advance its next occurrence.

    Call it inside a transaction holding the ritual's row lock. Returns None when the session
    of that occurrence already exists (the unique constraint said so).
    """
    latest = occurrences.previous_occurrence(ritual, at=now)
    occurrence = max(filter(None, [latest, ritual.next_occurrence]))
    if latest and ritual.next_occurrence and latest > ritual.next_occurrence:
        logger.info("ritual %s: catching up, opening only the latest missed occurrence %s", ritual.pk, occurrence)
    previous = (
        ReviewSession.objects.filter(ritual=ritual, occurrence__lt=occurrence, next_session__isnull=True)
        .order_by("-occurrence")
        .first()
    )
    session = None
    try:
        with transaction.atomic():  # savepoint: the constraint is the last guard against a double
            session = ReviewSession.objects.create(
                team_id=ritual.team_id, ritual=ritual, occurrence=occurrence, previous=previous
            )
    except IntegrityError:
        logger.info("ritual %s: session for %s already open", ritual.pk, occurrence)
    Ritual.objects.filter(pk=ritual.pk).update(
        next_occurrence=occurrences.next_occurrence(ritual, after=max(now, occurrence)),
        schedule_key=ritual.current_schedule_key(),
    )
    if session is None:
        return None
    session.attendees.set(ritual.attendees.all())
    session.agenda = agenda.build_agenda(session=session, now=now)
    session.save(update_fields=["agenda"])
    notification_ids = notifications.queue_session_opened(session=session)
    signals.review_session_opened_in_transaction.send(sender=ReviewSession, session=session)
    transaction.on_commit(lambda: signals.review_session_opened.send(sender=ReviewSession, session=session))
    transaction.on_commit(lambda: notifications.publish(notification_ids))
    return session


def open_due_sessions(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Open every due session, one ritual per transaction; returns the ids of the sessions opened."""
    now = now or timezone.now()
    opened: list[int] = []
    failed: list[int] = []
    for _round in range(limit):
        with transaction.atomic():
            ritual = (
                Ritual.objects.select_for_update(skip_locked=True)
                .filter(active=True, next_occurrence__lte=now)
                .exclude(pk__in=failed)
                .order_by("next_occurrence", "pk")
                .first()
            )
            if ritual is None:
                break
            try:
                with transaction.atomic():
                    session = open_session(ritual=ritual, now=now)
                if session is not None:
                    pause_if_asked(TICK_PAUSE, "before_commit")
            except Exception:
                # One broken ritual must not stop the others; it stays due and is retried next tick.
                logger.exception("ritual %s: could not open its session", ritual.pk)
                failed.append(ritual.pk)
                continue
        if session is not None:
            opened.append(session.pk)
            logger.info("ritual %s: opened session %s for %s", ritual.pk, session.pk, session.occurrence)
    if opened:
        pause_if_asked(TICK_PAUSE, "after_commit")
    return opened


def run_tick(*, now: dt.datetime | None = None) -> list[int]:
    """The once-a-minute work: repair schedules, then open the due sessions."""
    now = now or timezone.now()
    refresh_schedules(now=now)
    return open_due_sessions(now=now)
