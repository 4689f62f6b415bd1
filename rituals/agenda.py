"""The agenda of a review session: built and frozen when the session opens, diffed against now later.

A session's ``agenda`` (a JSONField) is written once, by the tick that opens the session, and
never rewritten: the board walks what was true when it opened. ``changes_since_freeze`` tells
what moved since (new items, items that no longer qualify, fields that changed).

Format (version 2) — the review-board page renders it without further queries::

    {
      "version": 2,
      "frozen_at": "2026-11-23T09:00:12+00:00",     # ISO 8601, UTC
      "occurrence": "2026-11-23T09:00:00+00:00",    # the ritual occurrence this session is for
      "since": "2026-11-16T09:00:00+00:00",         # previous session's occurrence (else the rule's
                                                    #   previous occurrence, else 7 days before)
      "timezone": "Europe/Paris",                   # the ritual's; show times in it
      "stale_after_days": 14,
      "duration_minutes": 60,                       # the ritual's: what the agenda is fitted to
      "counts": {"signals": 2, "checks": 1, ...},   # items per section, every section present
      "sections": [{"key": "signals", "minutes": 10, "count": 2}, ...],  # SECTIONS order; minutes =
                                                    #   the suggested timebox (0 for if_time_allows)
      "carried_over": 3,                            # items carried over from the previous session
      "carried_over_from": "2026-11-16",            # its date (ritual's time zone), or null
      "items": [ITEM, ...]                          # in section order (SECTIONS), then by urgency
      "monthly": {...}                              # monthly operations review only: the month's
                                                    #   figures (rituals.monthly.month_review); its
                                                    #   items are then only what was carried over
    }

    ITEM = {
      "id": "action:42",          # stable: "<kind>:<object_id>" (metric signals: "metric_signal:<key>")
      "kind": "action",           # incident | postmortem | action | metric_signal
      "object_id": 42,            # the Incident / Postmortem / Action id (null for a metric signal)
      "title": "Add a canary stage",
      "section": "checks",        # one of SECTIONS below
      "reasons": ["check_due", "overdue", "stale"],  # why it is on the agenda, most pressing first
      "minutes": 4,               # its share of the section's timebox (0 if it did not fit)
      "carried_over_from": null,  # "YYYY-MM-DD" when the previous session did not discuss it
      "data": {...}               # per kind, below; datetimes ISO 8601 UTC, dates YYYY-MM-DD, or null
    }

One item per object: an action overdue *and* stale *and* due for its Check is one item with
three reasons, in the section of its most pressing one. Sections, in the order the board
decides them (what needs a decision first):

- ``carried_over`` — items the previous session did not discuss (``reasons`` starts with
  ``carried_over``; if the object still qualifies today, its current reasons follow);
- ``signals`` — recurrences (an action whose problem came back, ``recurred_at`` since
  ``since``) and metric signals;
- ``checks`` — Check results to decide: actions in Do or Check whose observation window has
  ended (entered Do, from the StageTransition rows, + check_window_days ≤ now);
- ``incidents`` — new SEV1–SEV2 incidents;
- ``overdue`` — open actions whose due date is before today (ritual's time zone);
- ``other`` — the rest: other new incidents, postmortems not yet published, stale actions (open,
  no stage move for ``stale_after_days``);
- ``if_time_allows`` — what does not fit in ``duration_minutes``: items are walked in the order
  above, each costing ITEM_MINUTES[section]; once one does not fit, it and everything after it
  land here (the order of priority is kept, nothing is dropped).

Action reasons: ``recurrence``, ``check_due``, ``overdue``, ``stale``, ``carried_over``.

Kinds and their ``data``:

- ``incident`` — incidents started since ``since`` (or logged since, if they started at most
  7 days before it): severity, status, service, problem, started_at, resolved_at, has_postmortem.
- ``postmortem`` — postmortems not yet published: status, author, author_id, incident_id,
  severity, created_at.
- ``action`` — stage, owner, owner_id, due_date, stage_entered_at, last_moved_at, do_entered_at,
  check_window_days, check_due_at, recurred_at, recurrence_count, external_ticket, cycle,
  check_overridden.
- ``metric_signal`` — what ``reporting.metrics.signals_for_team`` reported, as it reported it
  (``data`` is the signal dict itself).

Version 1 (still stored in older sessions) had no sections: one item per (reason, object), its
``kind`` being the reason (``action_overdue``, ``action_stale``, ``action_check_due``,
``recurrence``) and the action data shared. ``readable()`` gives any stored agenda in the
version 2 shape, keeping version 1 item ids, so the decisions recorded on them still match.
"""

import contextlib
import datetime as dt
import hashlib
import json
import logging

from dateutil.relativedelta import relativedelta
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.db.models import BooleanField, Count, Exists, Max, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.cache import keep_copy, recent_copy, team_key
from improvement.models import OPEN_STAGES, Action, Stage
from incidents.models import Incident, Postmortem
from reporting import metrics
from rituals import occurrences
from rituals.models import ReviewSession, Ritual
from rituals.monthly import month_review

logger = logging.getLogger(__name__)

VERSION = 2
KINDS = ("incident", "postmortem", "action", "metric_signal")
SECTIONS = ("carried_over", "signals", "checks", "incidents", "overdue", "other", "if_time_allows")
# What one item is given of the meeting, by section: a decision to take costs more than a glance.
ITEM_MINUTES = {"carried_over": 3, "signals": 5, "checks": 4, "incidents": 5, "overdue": 2, "other": 1}
ACTION_REASONS = ("recurrence", "check_due", "overdue", "stale")  # most pressing first
REASON_SECTION = {"recurrence": "signals", "check_due": "checks", "overdue": "overdue", "stale": "other"}
MAJOR_SEVERITIES = ("SEV1", "SEV2")
# An incident logged after the previous session but started up to this long before it is still
# listed (logged late, it was on no earlier agenda); an old incident imported in bulk is not.
LATE_LOGGING_GRACE = dt.timedelta(days=7)
# Version 1 kinds: one item per reason. Their items are read as version 2 actions.
V1_ACTION_KINDS = {"action_overdue": "overdue", "action_stale": "stale", "action_check_due": "check_due"}
V1_ACTION_KINDS["recurrence"] = "recurrence"
V1_KINDS = ("incident", "postmortem", *V1_ACTION_KINDS, "metric_signal")
ACTION_KINDS = ("action", *V1_ACTION_KINDS)


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _person(first_name, last_name, username) -> str | None:
    """A user's full name, else their username (User.get_full_name's rule), from a narrow row; None for nobody."""
    if username is None:
        return None
    return f"{first_name} {last_name}".strip() or username


def _item(kind: str, object_id, title: str, data: dict, key=None, *, section="other", reasons=()) -> dict:
    return {
        "id": f"{kind}:{key if key is not None else object_id}",
        "kind": kind,
        "object_id": object_id,
        "title": title,
        "section": section,
        "reasons": list(reasons),
        "minutes": 0,
        "carried_over_from": None,
        "data": data,
    }


# --- the data of each kind -------------------------------------------------------------------


# Each kind is read as narrow rows (values()): a backlog puts ~1 000 actions and postmortems on a
# team's agenda, and building a model instance (and its related ones) per row cost more than the SQL.
INCIDENT_FIELDS = ("pk", "title", "severity", "status", "service__name", "problem__title", "started_at")
INCIDENT_FIELDS += ("resolved_at", "has_postmortem")
POSTMORTEM_FIELDS = ("pk", "status", "author_id", "author__first_name", "author__last_name", "author__username")
POSTMORTEM_FIELDS += ("incident_id", "incident__title", "incident__severity", "created_at")
ACTION_FIELDS = ("pk", "title", "stage", "owner_id", "owner__first_name", "owner__last_name", "owner__username")
ACTION_FIELDS += ("due_date", "stage_entered_at", "check_window_days", "recurred_at", "external_ticket", "cycle")
ACTION_FIELDS += ("check_result__overridden", "last_moved_at", "do_entered_at", "recurrence_count")


def _incident_data(row: dict) -> dict:
    return {
        "severity": row["severity"],
        "status": row["status"],
        "service": row["service__name"],
        "problem": row["problem__title"],
        "started_at": _iso(row["started_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "has_postmortem": bool(row["has_postmortem"]),
    }


def _incidents(team_id: int):
    return (
        Incident.objects.filter(team_id=team_id)
        .annotate(has_postmortem=Exists(Postmortem.objects.filter(incident=OuterRef("pk"))))
        .values(*INCIDENT_FIELDS)
    )


def _postmortem_data(row: dict) -> dict:
    return {
        "status": row["status"],
        "author": _person(row["author__first_name"], row["author__last_name"], row["author__username"]),
        "author_id": row["author_id"],
        "incident_id": row["incident_id"],
        "severity": row["incident__severity"],
        "created_at": _iso(row["created_at"]),
    }


def _postmortems(team_id: int):
    return Postmortem.objects.filter(team_id=team_id).values(*POSTMORTEM_FIELDS)


def _actions(team_id: int):
    return (
        Action.objects.filter(team_id=team_id)
        .annotate(
            last_moved_at=Max("transitions__at"),
            do_entered_at=Max("transitions__at", filter=Q(transitions__to_stage=Stage.DO)),
            recurrence_count=Count(
                "recurrence_links", filter=Q(recurrence_links__dismissed_at__isnull=True), distinct=True
            ),
        )
        .values(*ACTION_FIELDS)
    )


def _check_due_at(row: dict):
    if row["do_entered_at"] is None:
        return None
    return row["do_entered_at"] + dt.timedelta(days=row["check_window_days"])


def _action_data(row: dict) -> dict:
    return {
        "stage": row["stage"],
        "owner": _person(row["owner__first_name"], row["owner__last_name"], row["owner__username"]),
        "owner_id": row["owner_id"],
        "due_date": _iso(row["due_date"]),
        "stage_entered_at": _iso(row["stage_entered_at"]),
        "last_moved_at": _iso(row["last_moved_at"]),
        "do_entered_at": _iso(row["do_entered_at"]),
        "check_window_days": row["check_window_days"],
        "check_due_at": _iso(_check_due_at(row)),
        "recurred_at": _iso(row["recurred_at"]),
        "recurrence_count": row["recurrence_count"],
        "external_ticket": row["external_ticket"],
        "cycle": row["cycle"],
        "check_overridden": bool(row["check_result__overridden"]),
    }


def _without(queryset, pks: list[int]):
    """`queryset` without the rows of these primary keys (a frozen agenda's: ~2 000 at 100k incidents).

    On PostgreSQL the keys go as one array parameter (``id <> ALL(%s)``): as an IN list of ~1 000
    literals a query cost ~10 ms more to build, send and parse.
    """
    if not pks:
        return queryset
    if connections[queryset.db].vendor != "postgresql":
        return queryset.exclude(pk__in=pks)
    column = f'"{queryset.model._meta.db_table}"."{queryset.model._meta.pk.column}"'
    return queryset.filter(RawSQL(f"{column} <> ALL(%s)", (pks,), output_field=BooleanField()))  # noqa: S611 -- names from the model, the keys a parameter


def _json_safe(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# How long the review board reuses a team's metric signals: one ritual tick (improvement.tick runs
# every minute). They are computed from complete weeks' figures (26 of them, ~40 ms at 100k
# incidents), so what a minute's reuse may miss is a late incident of a past week, or a new target.
SIGNALS_CACHE_SECONDS = 60


def _cached_metric_signals(team, now) -> list[dict]:
    """The board's signals, computed at most once per team, day and SIGNALS_CACHE_SECONDS (core.cache)."""
    key = signals_cache_key(team, now)
    found = recent_copy(key, now, SIGNALS_CACHE_SECONDS)
    if found is None:
        found = _metric_signals(team, now)
        keep_copy(key, found, now, 3 * SIGNALS_CACHE_SECONDS)
    return found


def signals_cache_key(team, now) -> str:
    return f"{team_key('agenda-signals', team)}:{now.date().isoformat()}"


def _metric_signals(team, now) -> list[dict]:
    """Control-limit signals; a failure must not stop the agenda from freezing: inside the tick's
    transaction they are read in a savepoint (on PostgreSQL a failed query aborts the transaction)."""
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            return list(metrics.signals_for_team(team, now=now))
    except Exception:
        logger.exception("agenda: metric signals failed for team %s; freezing the agenda without them", team.pk)
        return []


def _signal_item(signal: dict) -> dict:
    data = _json_safe(signal)
    key = data.get("id") or data.get("key")
    if not key:
        parts = [data.get(name) for name in ("metric", "service", "service_id", "week", "period", "rule")]
        key = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
    title = data.get("title") or data.get("label") or data.get("metric") or "metric signal"
    return _item("metric_signal", None, str(title), data, key=key, section="signals", reasons=["metric_signal"])


# --- building -------------------------------------------------------------------------------


def _action_reasons(row: dict, *, since, now, today, stale_before) -> list[str]:
    reasons = []
    is_open = row["stage"] in OPEN_STAGES
    if row["recurred_at"] and since <= row["recurred_at"] <= now:
        reasons.append("recurrence")
    check_due_at = _check_due_at(row)
    if row["stage"] in (Stage.DO, Stage.CHECK) and check_due_at and check_due_at <= now:
        reasons.append("check_due")
    if is_open and row["due_date"] and row["due_date"] < today:
        reasons.append("overdue")
    if is_open and row["last_moved_at"] and row["last_moved_at"] < stale_before:
        reasons.append("stale")
    return reasons


def agenda_items(
    *, team, ritual, since: dt.datetime, now: dt.datetime, leave_out=frozenset(), cached_signals: bool = False
) -> list[dict]:
    """Everything the board must look at for `team` between `since` and `now`, one item per object.

    In section order (SECTIONS, without carry-over and fitting), then by urgency; a constant
    number of queries. Objects whose item id is in `leave_out` are not read (the board's "came in
    since the freeze" leaves out what was frozen: only what is new is read and shaped).
    `cached_signals`: the metric signals may be up to SIGNALS_CACHE_SECONDS old (the board; a freeze
    computes them).
    """
    by_section: dict[str, list] = {key: [] for key in SECTIONS}
    left_out: dict[str, list] = {kind: [] for kind in KINDS}
    for item_id in leave_out:
        kind, _sep, key = item_id.partition(":")
        if kind in left_out:
            left_out[kind].append(key if kind == "metric_signal" else int(key))
    logged_late = Q(created_at__gte=since, started_at__gte=since - LATE_LOGGING_GRACE)
    incidents = _incidents(team.pk).filter(Q(started_at__gte=since) | logged_late, started_at__lte=now)
    for row in _without(incidents, left_out["incident"]).order_by("severity", "started_at", "pk"):
        section = "incidents" if row["severity"] in MAJOR_SEVERITIES else "other"
        by_section[section].append(_item("incident", row["pk"], row["title"], _incident_data(row), section=section))
    for signal in (_cached_metric_signals if cached_signals else _metric_signals)(team, now):
        item = _signal_item(signal)
        if item["id"] not in leave_out:
            by_section["signals"].append(item)
    postmortems = _postmortems(team.pk).exclude(status=Postmortem.Status.PUBLISHED)
    for row in _without(postmortems, left_out["postmortem"]).order_by("created_at", "pk"):
        by_section["other"].append(_item("postmortem", row["pk"], row["incident__title"], _postmortem_data(row)))

    today = now.astimezone(occurrences.local_tz(ritual)).date()
    stale_before = now - dt.timedelta(days=ritual.stale_after_days)
    actions = _actions(team.pk).filter(Q(stage__in=OPEN_STAGES) | Q(recurred_at__gte=since))
    for row in _without(actions, left_out["action"]).order_by("due_date", "pk"):
        reasons = _action_reasons(row, since=since, now=now, today=today, stale_before=stale_before)
        if reasons:
            section = REASON_SECTION[reasons[0]]
            item = _item("action", row["pk"], row["title"], _action_data(row), section=section, reasons=reasons)
            by_section[section].append(item)
    # Recurrences before metric signals: a cause that came back is a decision, a signal a question.
    by_section["signals"].sort(key=lambda item: item["kind"] != "action")
    return [item for key in SECTIONS for item in by_section[key]]


def _carried_over(session: ReviewSession) -> tuple[list[dict], str | None]:
    """The previous session's items it did not discuss (as it froze them), and that session's local date."""
    previous = session.previous
    if previous is None or not previous.agenda:
        return [], None
    decided = set(previous.decisions.exclude(item_id="").values_list("item_id", flat=True))
    when = previous.occurrence.astimezone(occurrences.local_tz(session.ritual)).date().isoformat()
    left = [item for item in readable(previous.agenda)["items"] if item["id"] not in decided]
    return left, when


def _merge_carried(items: list[dict], carried: list[dict], when: str | None) -> list[dict]:
    """Carried-over items first, marked; an object also on today's agenda is one item, with both reasons."""
    if not carried:
        return items
    today = {item["id"]: item for item in items}
    first: dict[str, dict] = {}
    for old in carried:
        new_id = old["id"] if old["kind"] in KINDS else f"action:{old['object_id']}"
        reasons = [r for r in old.get("reasons", []) if r != "carried_over"]
        if new_id in first:  # a version 1 agenda listed an action once per reason
            first[new_id]["reasons"] += [r for r in reasons if r not in first[new_id]["reasons"]]
            continue
        current = today.pop(new_id, None)
        base = current or {**old, "id": new_id, "kind": "action" if old["kind"] in ACTION_KINDS else old["kind"]}
        reasons = current["reasons"] if current else reasons
        first[new_id] = {**base, "section": "carried_over", "reasons": ["carried_over", *reasons]}
        first[new_id]["carried_over_from"] = when
    return [*first.values(), *(item for item in items if item["id"] in today)]


def fit_to_duration(items: list[dict], duration_minutes: int) -> list[dict]:
    """Give each item its minutes, in order, until the meeting is full; the rest is 'if time allows'."""
    used, full = 0, False
    for item in items:
        cost = ITEM_MINUTES.get(item["section"], 1)
        if not full and used + cost <= duration_minutes:
            used += cost
            item["minutes"] = cost
        else:
            full = True
            item["minutes"] = 0
            item["section"] = "if_time_allows"
    return items


def agenda_since(session: ReviewSession) -> dt.datetime:
    """Where the agenda's window starts: the previous session, else the rule's previous occurrence, else a period."""
    if session.previous_id:
        return session.previous.occurrence
    before = occurrences.previous_occurrence(session.ritual, at=session.occurrence - dt.timedelta(seconds=1))
    if before:
        return before
    # A ritual's first session: the period it reviews (a month for the monthly review, else a week).
    if session.ritual.kind == Ritual.Kind.MONTHLY_OPS_REVIEW:
        return session.occurrence - relativedelta(months=1)
    return session.occurrence - dt.timedelta(days=7)


def build_agenda(*, session: ReviewSession, now: dt.datetime | None = None) -> dict:
    """The agenda document of `session` as of `now` (the tick stores it once: that is the freeze)."""
    now = now or timezone.now()
    ritual = session.ritual
    since = agenda_since(session)
    monthly = ritual.kind == Ritual.Kind.MONTHLY_OPS_REVIEW
    # The monthly review looks at the month's figures (rituals.monthly), not at each item again.
    items = [] if monthly else agenda_items(team=session.team, ritual=ritual, since=since, now=now)
    carried, when = _carried_over(session)
    items = fit_to_duration(_merge_carried(items, carried, when), ritual.duration_minutes)
    document = {
        "version": VERSION,
        "frozen_at": _iso(now),
        "occurrence": _iso(session.occurrence),
        "since": _iso(since),
        "timezone": ritual.timezone,
        "stale_after_days": ritual.stale_after_days,
        "duration_minutes": ritual.duration_minutes,
        **_sections_of(items),
        "carried_over": sum(1 for item in items if item.get("carried_over_from")),
        "carried_over_from": when if carried else None,
        "items": items,
    }
    if monthly:
        document["monthly"] = month_review(team=session.team, since=since, now=now)
    return document


def _sections_of(items: list[dict]) -> dict:
    counts = dict.fromkeys(SECTIONS, 0)
    minutes = dict.fromkeys(SECTIONS, 0)
    for item in items:
        counts[item["section"]] += 1
        minutes[item["section"]] += item.get("minutes") or 0
    sections = [{"key": key, "minutes": minutes[key], "count": counts[key]} for key in SECTIONS]
    return {"counts": counts, "sections": sections}


def _v1_section(item: dict) -> str:
    kind = item.get("kind")
    if kind in V1_ACTION_KINDS:
        return REASON_SECTION[V1_ACTION_KINDS[kind]]
    if kind == "metric_signal":
        return "signals"
    if kind == "incident" and (item.get("data") or {}).get("severity") in MAJOR_SEVERITIES:
        return "incidents"
    return "other"


def readable(agenda: dict | None) -> dict:
    """Any stored agenda in the version 2 shape (version 1 items keep their ids, read into sections)."""
    agenda = agenda or {}
    if agenda.get("version", 1) >= 2:
        return agenda
    items = []
    for item in agenda.get("items", []):
        kind = item.get("kind")
        reasons = [V1_ACTION_KINDS[kind]] if kind in V1_ACTION_KINDS else []
        items.append(
            {"reasons": reasons, "minutes": 0, "carried_over_from": None, **item, "section": _v1_section(item)}
        )
    order = {key: index for index, key in enumerate(SECTIONS)}
    items.sort(key=lambda item: order[item["section"]])  # stable: the frozen order within a section
    return {**agenda, **_sections_of(items), "carried_over": 0, "carried_over_from": None, "items": items}


# --- what changed since the freeze (selector) -----------------------------------------------


def _current_data(items: list[dict], team_id: int) -> dict[str, dict | None]:
    """Today's data of frozen items that no longer qualify, by item id (None when deleted)."""
    wanted: dict[str, set] = {"incident": set(), "postmortem": set(), "action": set()}
    for item in items:
        if item["object_id"] is None:
            continue
        group = "action" if item["kind"] in ACTION_KINDS else item["kind"]
        wanted[group].add(item["object_id"])
    found: dict[tuple, dict] = {}
    if wanted["incident"]:
        for row in _incidents(team_id).filter(pk__in=wanted["incident"]):
            found["incident", row["pk"]] = _incident_data(row)
    if wanted["postmortem"]:
        for row in _postmortems(team_id).filter(pk__in=wanted["postmortem"]):
            found["postmortem", row["pk"]] = _postmortem_data(row)
    if wanted["action"]:
        for row in _actions(team_id).filter(pk__in=wanted["action"]):
            found["action", row["pk"]] = _action_data(row)
    result = {}
    for item in items:
        group = "action" if item["kind"] in ACTION_KINDS else item["kind"]
        result[item["id"]] = found.get((group, item["object_id"]))
    return result


def _frozen(session: ReviewSession) -> tuple[dict[str, dict], dt.datetime]:
    """The frozen items by id (a version 1 action, one item per reason, as one action) and the window's start."""
    frozen = readable(session.agenda)
    frozen_items = {}
    for item in frozen.get("items", []):
        if item["kind"] in V1_ACTION_KINDS:
            key = f"action:{item['object_id']}"
            merged = frozen_items.setdefault(key, {**item, "id": key, "kind": "action", "reasons": []})
            merged["reasons"] = [*merged["reasons"], *item.get("reasons", [])]
        else:
            frozen_items[item["id"]] = item
    since = dt.datetime.fromisoformat(frozen["since"]) if frozen.get("since") else agenda_since(session)
    return frozen_items, since


def added_since_freeze(session: ReviewSession, *, now: dt.datetime | None = None) -> list[dict]:
    """The items that would be on the agenda now but were not frozen: ``changes_since_freeze(...)["added"]``.

    What the review board lists beside the frozen agenda: the live agenda is read as for the
    freeze, but only its new items are built, and what no longer qualifies is not re-read; the
    same queries whatever was frozen.
    """
    frozen_items, since = _frozen(session)
    return agenda_items(
        team=session.team,
        ritual=session.ritual,
        since=since,
        now=now or timezone.now(),
        leave_out=frozen_items,
        cached_signals=True,
    )


def changes_since_freeze(session: ReviewSession, *, now: dt.datetime | None = None) -> dict:
    """What differs between the frozen agenda of `session` and the same agenda rebuilt now.

    Returns ``{"as_of": iso, "added": [ITEM...], "removed": [{"id", "kind", "object_id", "title",
    "now": data-or-null}...], "changed": {item_id: {field: {"before": x, "after": y}}}}``:
    added = would be on the agenda now but was not frozen (e.g. an incident logged after the
    freeze); removed = frozen but no longer qualifies (``now`` holds its current data, null if
    deleted), e.g. a postmortem published since; changed = on both, with the fields that moved.
    A constant number of queries, whatever the agenda's size.
    """
    now = now or timezone.now()
    frozen_items, since = _frozen(session)
    live_items = {
        item["id"]: item for item in agenda_items(team=session.team, ritual=session.ritual, since=since, now=now)
    }
    added = [item for item_id, item in live_items.items() if item_id not in frozen_items]
    # A carried-over item was on the agenda for the previous session's sake, not for qualifying now.
    gone = [i for item_id, i in frozen_items.items() if item_id not in live_items and not i.get("carried_over_from")]
    current = _current_data(gone, session.team_id)
    removed = [
        {"id": i["id"], "kind": i["kind"], "object_id": i["object_id"], "title": i["title"], "now": current[i["id"]]}
        for i in gone
    ]
    changed = {}
    for item_id, item in frozen_items.items():
        live = live_items.get(item_id)
        if live is None:
            continue
        before, after = item["data"], live["data"]
        fields = {
            name: {"before": before.get(name), "after": after.get(name)}
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
        }
        reasons = [reason for reason in item.get("reasons", []) if reason != "carried_over"]
        if sorted(live["reasons"]) != sorted(reasons):
            fields["reasons"] = {"before": reasons, "after": live["reasons"]}
        if live["title"] != item["title"]:
            fields["title"] = {"before": item["title"], "after": live["title"]}
        if fields:
            changed[item_id] = fields
    return {"as_of": _iso(now), "added": added, "removed": removed, "changed": changed}
