"""Frozen agendas of any size, in the documented format (improvement/agenda.py, version 1), for review tests."""

import datetime as dt

from rituals.models import ReviewSession
from rituals.views import AGENDA_SECTIONS
from tests.factories import RitualFactory

ACTION_DATA = {"stage": "plan", "owner": "x", "owner_id": None, "due_date": "2026-11-01", "last_moved_at": None}
ACTION_DATA |= {"check_due_at": None, "recurrence_count": 0}
DATA = {
    "incident": {"severity": "SEV3", "status": "open", "service": None, "problem": None, "has_postmortem": False}
    | {"started_at": "2026-11-20T08:00:00+00:00"},
    "postmortem": {"status": "draft", "author": "x", "severity": "SEV3", "created_at": "2026-11-20T08:00:00+00:00"},
    "metric_signal": {
        "metric": "incidents",
        "label": "Incidents",
        "week": "2026-11-16",
        "value": 9.0,
        "limit": 6.5,
        "rule": "beyond_limit",
        "direction": "above",
    },
}


def item(kind: str, n: int, object_id=None) -> dict:
    """Agenda item number `n` of its section, in the frozen format (version 1) of improvement/agenda.py."""
    key = object_id or 10_000 + n
    return {
        "id": f"{kind}:{key}",
        "kind": kind,
        "object_id": None if kind == "metric_signal" else key,
        "title": f"{kind} #{n:03d}",
        "data": DATA.get(kind, ACTION_DATA),
    }


def frozen_session_of(team, items: list[dict], *, occurrence=None, previous=None) -> ReviewSession:
    """A session as the tick opens it, with `items` as its frozen agenda."""
    occurrence = occurrence or dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    counts = dict.fromkeys(AGENDA_SECTIONS, 0)
    for frozen in items:
        counts[frozen["kind"]] += 1
    agenda = {
        "version": 1,
        "frozen_at": occurrence.isoformat(),
        "occurrence": occurrence.isoformat(),
        "since": (occurrence - dt.timedelta(days=7)).isoformat(),
        "timezone": "Europe/Paris",
        "stale_after_days": 14,
        "counts": counts,
        "items": items,
    }
    ritual = RitualFactory(team=team)
    return ReviewSession.objects.create(
        team=team, ritual=ritual, occurrence=occurrence, agenda=agenda, previous=previous
    )


def big_session(team, per_section: int, *, kinds=tuple(AGENDA_SECTIONS), replace=None, weeks_ago=0) -> ReviewSession:
    """A session with `per_section` frozen items in each section of `kinds` (`replace`: {(kind, n): item})."""
    occurrence = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC) - dt.timedelta(weeks=weeks_ago)
    items = [(replace or {}).get((kind, n)) or item(kind, n) for kind in kinds for n in range(1, per_section + 1)]
    return frozen_session_of(team, items, occurrence=occurrence)
