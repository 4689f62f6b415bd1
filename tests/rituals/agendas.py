"""Frozen agendas of any size, in the documented format (rituals/agenda.py), for review tests."""

import datetime as dt

from rituals import agenda
from rituals.models import ReviewSession
from tests.factories import RitualFactory

ACTION_DATA = {"stage": "plan", "owner": "x", "owner_id": None, "due_date": "2026-11-01", "last_moved_at": None}
ACTION_DATA |= {"check_due_at": None, "recurrence_count": 0}
DATA = {
    "incident": {"severity": "SEV2", "status": "open", "service": None, "problem": None, "has_postmortem": False}
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
# What each section of a test agenda holds, and why.
SECTION_KIND = {
    "carried_over": ("action", ["carried_over", "overdue"]),
    "signals": ("metric_signal", ["metric_signal"]),
    "checks": ("action", ["check_due"]),
    "incidents": ("incident", []),
    "overdue": ("action", ["overdue"]),
    "other": ("postmortem", []),
    "if_time_allows": ("action", ["stale"]),
}
SECTIONS = tuple(SECTION_KIND)


def item(section: str, n: int, object_id=None) -> dict:
    """Agenda item number `n` of its section, in the frozen format (version 2) of rituals/agenda.py."""
    kind, reasons = SECTION_KIND[section]
    key = object_id or 10_000 * (SECTIONS.index(section) + 1) + n
    return {
        "id": f"{kind}:{key}",
        "kind": kind,
        "object_id": None if kind == "metric_signal" else key,
        "title": f"{section} #{n:03d}",
        "section": section,
        "reasons": reasons,
        "minutes": 0 if section == "if_time_allows" else 1,
        "carried_over_from": "2026-11-16" if section == "carried_over" else None,
        "data": DATA.get(kind, ACTION_DATA),
    }


def frozen_session_of(team, items: list[dict], *, occurrence=None, previous=None) -> ReviewSession:
    """A session as the tick opens it, with `items` as its frozen agenda (version 1 items if they have no section)."""
    occurrence = occurrence or dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    version = 2 if items and all("section" in i for i in items) else 1
    document = {
        "version": version,
        "frozen_at": occurrence.isoformat(),
        "occurrence": occurrence.isoformat(),
        "since": (occurrence - dt.timedelta(days=7)).isoformat(),
        "timezone": "Europe/Paris",
        "stale_after_days": 14,
        "items": items,
    }
    if version == 1:
        document["counts"] = dict.fromkeys(agenda.V1_KINDS, 0)
        for frozen in items:
            document["counts"][frozen["kind"]] += 1
    else:
        document |= {"duration_minutes": 60, **agenda._sections_of(items)}
        document["carried_over"] = sum(1 for i in items if i.get("carried_over_from"))
        document["carried_over_from"] = "2026-11-16" if document["carried_over"] else None
    ritual = RitualFactory(team=team)
    return ReviewSession.objects.create(
        team=team, ritual=ritual, occurrence=occurrence, agenda=document, previous=previous
    )


def big_session(team, per_section: int, *, kinds=SECTIONS, replace=None, weeks_ago=0) -> ReviewSession:
    """A session with `per_section` frozen items in each section of `kinds` (`replace`: {(section, n): item})."""
    occurrence = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC) - dt.timedelta(weeks=weeks_ago)
    items = [(replace or {}).get((kind, n)) or item(kind, n) for kind in kinds for n in range(1, per_section + 1)]
    return frozen_session_of(team, items, occurrence=occurrence)
