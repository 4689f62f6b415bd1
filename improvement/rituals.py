"""Ritual occurrences, and the tick that opens each due review session exactly once.

Occurrence math
---------------
A ritual's cadence is either a weekday + time, or an RFC 5545 RRULE (``FREQ=...``, with or
without the ``RRULE:`` prefix; the time of day comes from the rule's BYHOUR/BYMINUTE, else from
the ritual's time). Occurrences are computed on the *local wall clock* of the ritual's time zone
and only then converted to UTC, so a weekly 10:00 Europe/Paris ritual stays at 10:00 local across
the changes of hour (08:00 UTC in summer, 09:00 UTC in winter). A local time that does not exist
that day (in the spring-forward gap) lands at the same UTC instant as the hour after; a local time
that happens twice (fall back) is the first of the two.

The tick
--------
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
import zoneinfo

from dateutil import rrule as du_rrule
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.fault_hooks import pause_if_asked
from improvement import signals
from improvement.models import ReviewSession, Ritual

logger = logging.getLogger(__name__)
# Lets a fault test SIGKILL a real worker mid-tick (config/fault_hooks.py); unset in production.
TICK_PAUSE = "OPSKAIZEN_TEST_TICK_PAUSE"

UTC = dt.UTC
# Local-time margin when converting a UTC instant to the wall clock: covers DST gaps and folds.
_MARGIN = dt.timedelta(hours=3)
# A rule that yields nothing in this many steps is treated as ended.
_MAX_STEPS = 5000
# Anchor for weekday + time rituals: any Monday will do.
_WEEKLY_ANCHOR = dt.date(2000, 1, 3)


# --- occurrence math (pure: no database access) ---------------------------------------------


def _rrule_text(text: str) -> str:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    return text


def rrule_error(text: str) -> str | None:
    """Why `text` is not an RRULE this app accepts, or None when it is fine."""
    body = _rrule_text(text)
    if "\n" in body or "DTSTART" in body.upper():
        return _("Give only the RRULE (FREQ=…); the time and the time zone are the ritual's fields.")
    try:
        rule = du_rrule.rrulestr(body, dtstart=dt.datetime(2000, 1, 3))
    except (ValueError, TypeError) as exc:
        return _("This is not a valid RFC 5545 RRULE: %(error)s") % {"error": exc}
    if rule.after(dt.datetime(2000, 1, 3), inc=True) is None:
        return _("This rule never occurs.")
    return None


def _tz(ritual: Ritual) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(ritual.timezone or "UTC")


def _rule(ritual: Ritual):
    """The cadence as a dateutil rule over naive local wall-clock datetimes."""
    time_of_day = ritual.time_of_day or dt.time(0, 0)
    if ritual.rrule.strip():
        created = ritual.created_at or timezone.now()
        anchor_date = created.astimezone(_tz(ritual)).date()
        dtstart = dt.datetime.combine(anchor_date, time_of_day.replace(second=0, microsecond=0))
        return du_rrule.rrulestr(_rrule_text(ritual.rrule), dtstart=dtstart)
    if ritual.weekday is None or ritual.time_of_day is None:
        raise ValueError("a ritual needs a weekday and a time, or an RRULE")
    return du_rrule.rrule(
        du_rrule.WEEKLY,
        dtstart=dt.datetime.combine(_WEEKLY_ANCHOR, time_of_day),
        byweekday=ritual.weekday,
        byhour=time_of_day.hour,
        byminute=time_of_day.minute,
        bysecond=0,
    )


def _aware(naive: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Wall-clock time in `tz` → UTC instant (fold=0: the first of two, the hour after a gap)."""
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _local(instant: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def iter_occurrences(ritual: Ritual, *, after: dt.datetime):
    """Occurrences strictly after the instant `after`, as UTC datetimes, in order."""
    tz = _tz(ritual)
    last = None
    for steps, naive in enumerate(_rule(ritual).xafter(_local(after, tz) - _MARGIN, inc=True)):
        if steps >= _MAX_STEPS:
            return
        instant = _aware(naive, tz)
        if instant > after and instant != last:
            last = instant
            yield instant


def next_occurrence(ritual: Ritual, *, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence strictly after `after` (UTC), or None when the rule has ended."""
    return next(iter_occurrences(ritual, after=after), None)


def previous_occurrence(ritual: Ritual, *, at: dt.datetime) -> dt.datetime | None:
    """The latest occurrence at or before `at` (UTC), or None when there is none."""
    tz = _tz(ritual)
    rule = _rule(ritual)
    naive = rule.before(_local(at, tz) + _MARGIN, inc=True)
    for _step in range(_MAX_STEPS):
        if naive is None:
            return None
        instant = _aware(naive, tz)
        if instant <= at:
            return instant
        naive = rule.before(naive)
    return None


def occurrences_between(ritual: Ritual, start: dt.datetime, end: dt.datetime, *, limit: int = 200) -> list:
    """Occurrences in [start, end), at most `limit` of them (for the calendar feed)."""
    found = []
    for instant in iter_occurrences(ritual, after=start - dt.timedelta(microseconds=1)):
        if instant >= end or len(found) >= limit:
            break
        found.append(instant)
    return found


# --- the tick (writes) ------------------------------------------------------------------------


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
    from improvement import agenda, notifications

    latest = previous_occurrence(ritual, at=now)
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
        next_occurrence=next_occurrence(ritual, after=max(now, occurrence)), schedule_key=ritual.current_schedule_key()
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
