"""Ritual occurrences: when a ritual meets, in its own time zone (pure: no database access).

A ritual's cadence is either a weekday + time, or an RFC 5545 RRULE (``FREQ=...``, with or
without the ``RRULE:`` prefix; the time of day comes from the rule's BYHOUR/BYMINUTE, else from
the ritual's time). Occurrences are computed on the *local wall clock* of the ritual's time zone
and only then converted to UTC, so a weekly 10:00 Europe/Paris ritual stays at 10:00 local across
the changes of hour (08:00 UTC in summer, 09:00 UTC in winter). A local time that does not exist
that day (in the spring-forward gap) lands at the same UTC instant as the hour after; a local time
that happens twice (fall back) is the first of the two.
"""

import datetime as dt
import zoneinfo

from dateutil import rrule as du_rrule
from django.utils import timezone
from django.utils.translation import gettext as _

UTC = dt.UTC
# Local-time margin when converting a UTC instant to the wall clock: covers DST gaps and folds.
_MARGIN = dt.timedelta(hours=3)
# A rule that yields nothing in this many steps is treated as ended.
_MAX_STEPS = 5000
# Anchor for weekday + time rituals: any Monday will do.
_WEEKLY_ANCHOR = dt.date(2000, 1, 3)


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


def local_tz(ritual) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(ritual.timezone or "UTC")


def _rule(ritual):
    """The cadence as a dateutil rule over naive local wall-clock datetimes."""
    time_of_day = ritual.time_of_day or dt.time(0, 0)
    if ritual.rrule.strip():
        created = ritual.created_at or timezone.now()
        anchor_date = created.astimezone(local_tz(ritual)).date()
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


def iter_occurrences(ritual, *, after: dt.datetime):
    """Occurrences strictly after the instant `after`, as UTC datetimes, in order."""
    tz = local_tz(ritual)
    last = None
    for steps, naive in enumerate(_rule(ritual).xafter(_local(after, tz) - _MARGIN, inc=True)):
        if steps >= _MAX_STEPS:
            return
        instant = _aware(naive, tz)
        if instant > after and instant != last:
            last = instant
            yield instant


def next_occurrence(ritual, *, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence strictly after `after` (UTC), or None when the rule has ended."""
    return next(iter_occurrences(ritual, after=after), None)


def previous_occurrence(ritual, *, at: dt.datetime) -> dt.datetime | None:
    """The latest occurrence at or before `at` (UTC), or None when there is none."""
    tz = local_tz(ritual)
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


def occurrences_between(ritual, start: dt.datetime, end: dt.datetime, *, limit: int = 200) -> list:
    """Occurrences in [start, end), at most `limit` of them (for the calendar feed)."""
    found = []
    for instant in iter_occurrences(ritual, after=start - dt.timedelta(microseconds=1)):
        if instant >= end or len(found) >= limit:
            break
        found.append(instant)
    return found
