"""The agenda of a review session: built and frozen when the session opens, diffed against now later.

A session's ``agenda`` (a JSONField) is written once, by the tick that opens the session, and
never rewritten: the board walks what was true when it opened. ``changes_since_freeze`` tells
what moved since (new items, items that no longer qualify, fields that changed).

Format (version 1) — the review-board page renders it without further queries::

    {
      "version": 1,
      "frozen_at": "2026-11-23T09:00:12+00:00",     # ISO 8601, UTC
      "occurrence": "2026-11-23T09:00:00+00:00",    # the ritual occurrence this session is for
      "since": "2026-11-16T09:00:00+00:00",         # previous session's occurrence (else the rule's
                                                    #   previous occurrence, else 7 days before)
      "timezone": "Europe/Paris",                   # the ritual's; show times in it
      "stale_after_days": 14,
      "counts": {"incident": 3, "postmortem": 1, ...},   # items per kind, every kind present
      "items": [ITEM, ...]                          # in section order (KINDS), then by urgency
    }

    ITEM = {
      "id": "action_overdue:42",  # stable: "<kind>:<object_id>" (metric signals: "metric_signal:<key>")
      "kind": "action_overdue",   # one of KINDS below
      "object_id": 42,            # the Incident / Postmortem / Action id (null for a metric signal)
      "title": "Add a canary stage",
      "data": {...}               # per kind, below; datetimes ISO 8601 UTC, dates YYYY-MM-DD, or null
    }

Kinds and their ``data``:

- ``incident`` — incidents started since ``since`` (or logged since, if they started at most
  7 days before it): severity, status, service, problem, started_at, resolved_at, has_postmortem.
- ``postmortem`` — postmortems not yet published: status, author, author_id, incident_id,
  severity, created_at.
- ``action_overdue`` — open actions whose due date is before today (ritual's time zone),
- ``action_stale`` — open actions with no stage move for ``stale_after_days``,
- ``action_check_due`` — actions in Do or Check whose observation window has ended (entered Do,
  from the StageTransition rows, + check_window_days ≤ now),
- ``recurrence`` — actions whose problem came back (recurred_at) since ``since``.
  The four action kinds share one ``data``: stage, owner, owner_id, due_date, stage_entered_at,
  last_moved_at, do_entered_at, check_window_days, check_due_at, recurred_at, recurrence_count,
  external_ticket, cycle. An action may appear under several kinds (overdue *and* stale).
- ``metric_signal`` — what ``reporting.metrics.signals_for_team`` reported, as it reported it
  (``data`` is the signal dict itself).
"""

import datetime as dt
import hashlib
import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from improvement.models import OPEN_STAGES, Action, Stage
from incidents.models import Incident, Postmortem
from reporting import metrics
from rituals import occurrences
from rituals.models import ReviewSession

logger = logging.getLogger(__name__)

VERSION = 1
KINDS = (
    "incident",
    "postmortem",
    "action_overdue",
    "action_stale",
    "action_check_due",
    "recurrence",
    "metric_signal",
)
# An incident logged after the previous session but started up to this long before it is still
# listed (logged late, it was on no earlier agenda); an old incident imported in bulk is not.
LATE_LOGGING_GRACE = dt.timedelta(days=7)
ACTION_KINDS = ("action_overdue", "action_stale", "action_check_due", "recurrence")


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _person(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


def _item(kind: str, object_id, title: str, data: dict, key=None) -> dict:
    return {
        "id": f"{kind}:{key if key is not None else object_id}",
        "kind": kind,
        "object_id": object_id,
        "title": title,
        "data": data,
    }


# --- the data of each kind -------------------------------------------------------------------


def _incident_data(incident: Incident) -> dict:
    return {
        "severity": incident.severity,
        "status": incident.status,
        "service": incident.service.name if incident.service_id else None,
        "problem": incident.problem.title if incident.problem_id else None,
        "started_at": _iso(incident.started_at),
        "resolved_at": _iso(incident.resolved_at),
        "has_postmortem": bool(incident.has_postmortem),
    }


def _incidents(team_id: int):
    return (
        Incident.objects.filter(team_id=team_id)
        .select_related("service", "problem")
        .annotate(has_postmortem=Exists(Postmortem.objects.filter(incident=OuterRef("pk"))))
    )


def _postmortem_data(postmortem: Postmortem) -> dict:
    return {
        "status": postmortem.status,
        "author": _person(postmortem.author),
        "author_id": postmortem.author_id,
        "incident_id": postmortem.incident_id,
        "severity": postmortem.incident.severity,
        "created_at": _iso(postmortem.created_at),
    }


def _postmortems(team_id: int):
    return Postmortem.objects.filter(team_id=team_id).select_related("incident", "author")


def _actions(team_id: int):
    return (
        Action.objects.filter(team_id=team_id)
        .select_related("owner", "check_result")
        .annotate(
            last_moved_at=Max("transitions__at"),
            do_entered_at=Max("transitions__at", filter=Q(transitions__to_stage=Stage.DO)),
            recurrence_count=Count(
                "recurrence_links", filter=Q(recurrence_links__dismissed_at__isnull=True), distinct=True
            ),
        )
    )


def _check_due_at(action: Action):
    if action.do_entered_at is None:
        return None
    return action.do_entered_at + dt.timedelta(days=action.check_window_days)


def _action_data(action: Action) -> dict:
    return {
        "stage": action.stage,
        "owner": _person(action.owner),
        "owner_id": action.owner_id,
        "due_date": _iso(action.due_date),
        "stage_entered_at": _iso(action.stage_entered_at),
        "last_moved_at": _iso(action.last_moved_at),
        "do_entered_at": _iso(action.do_entered_at),
        "check_window_days": action.check_window_days,
        "check_due_at": _iso(_check_due_at(action)),
        "recurred_at": _iso(action.recurred_at),
        "recurrence_count": action.recurrence_count,
        "external_ticket": action.external_ticket,
        "cycle": action.cycle,
        "check_overridden": bool(getattr(action, "check_result", None) and action.check_result.overridden),
    }


def _json_safe(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _metric_signals(team, now) -> list[dict]:
    """Control-limit signals from the metrics module; a failure there must not stop the agenda from freezing."""
    try:
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
    return _item("metric_signal", None, str(title), data, key=key)


# --- building -------------------------------------------------------------------------------


def agenda_items(*, team, ritual, since: dt.datetime, now: dt.datetime) -> list[dict]:
    """Everything the board must look at for `team` between `since` and `now` (a constant number of queries)."""
    items: list[dict] = []
    logged_late = Q(created_at__gte=since, started_at__gte=since - LATE_LOGGING_GRACE)
    incidents = _incidents(team.pk).filter(Q(started_at__gte=since) | logged_late, started_at__lte=now)
    for incident in incidents.order_by("severity", "started_at", "pk"):
        items.append(_item("incident", incident.pk, incident.title, _incident_data(incident)))
    postmortems = _postmortems(team.pk).exclude(status=Postmortem.Status.PUBLISHED)
    for postmortem in postmortems.order_by("created_at", "pk"):
        items.append(_item("postmortem", postmortem.pk, postmortem.incident.title, _postmortem_data(postmortem)))

    today = now.astimezone(occurrences.local_tz(ritual)).date()
    stale_before = now - dt.timedelta(days=ritual.stale_after_days)
    actions = _actions(team.pk).filter(Q(stage__in=OPEN_STAGES) | Q(recurred_at__gte=since))
    by_kind: dict[str, list] = {kind: [] for kind in ACTION_KINDS}
    for action in actions.order_by("due_date", "pk"):
        is_open = action.stage in OPEN_STAGES
        if is_open and action.due_date and action.due_date < today:
            by_kind["action_overdue"].append(action)
        if is_open and action.last_moved_at and action.last_moved_at < stale_before:
            by_kind["action_stale"].append(action)
        check_due_at = _check_due_at(action)
        if action.stage in (Stage.DO, Stage.CHECK) and check_due_at and check_due_at <= now:
            by_kind["action_check_due"].append(action)
        if action.recurred_at and since <= action.recurred_at <= now:
            by_kind["recurrence"].append(action)
    for kind in ACTION_KINDS:
        items.extend(_item(kind, a.pk, a.title, _action_data(a)) for a in by_kind[kind])
    items.extend(_signal_item(signal) for signal in _metric_signals(team, now))
    return items


def agenda_since(session: ReviewSession) -> dt.datetime:
    """Where the agenda's window starts: the previous session, else the rule's previous occurrence."""
    if session.previous_id:
        return session.previous.occurrence
    before = occurrences.previous_occurrence(session.ritual, at=session.occurrence - dt.timedelta(seconds=1))
    return before or session.occurrence - dt.timedelta(days=7)


def build_agenda(*, session: ReviewSession, now: dt.datetime | None = None) -> dict:
    """The agenda document of `session` as of `now` (the tick stores it once: that is the freeze)."""
    now = now or timezone.now()
    ritual = session.ritual
    since = agenda_since(session)
    items = agenda_items(team=session.team, ritual=ritual, since=since, now=now)
    counts = dict.fromkeys(KINDS, 0)
    for item in items:
        counts[item["kind"]] += 1
    return {
        "version": VERSION,
        "frozen_at": _iso(now),
        "occurrence": _iso(session.occurrence),
        "since": _iso(since),
        "timezone": ritual.timezone,
        "stale_after_days": ritual.stale_after_days,
        "counts": counts,
        "items": items,
    }


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
        for obj in _incidents(team_id).filter(pk__in=wanted["incident"]):
            found["incident", obj.pk] = _incident_data(obj)
    if wanted["postmortem"]:
        for obj in _postmortems(team_id).filter(pk__in=wanted["postmortem"]):
            found["postmortem", obj.pk] = _postmortem_data(obj)
    if wanted["action"]:
        for obj in _actions(team_id).filter(pk__in=wanted["action"]):
            found["action", obj.pk] = _action_data(obj)
    result = {}
    for item in items:
        group = "action" if item["kind"] in ACTION_KINDS else item["kind"]
        result[item["id"]] = found.get((group, item["object_id"]))
    return result


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
    frozen = session.agenda or {}
    frozen_items = {item["id"]: item for item in frozen.get("items", [])}
    since = dt.datetime.fromisoformat(frozen["since"]) if frozen.get("since") else agenda_since(session)
    live_items = {
        item["id"]: item for item in agenda_items(team=session.team, ritual=session.ritual, since=since, now=now)
    }
    added = [item for item_id, item in live_items.items() if item_id not in frozen_items]
    gone = [item for item_id, item in frozen_items.items() if item_id not in live_items]
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
        if live["title"] != item["title"]:
            fields["title"] = {"before": item["title"], "after": live["title"]}
        if fields:
            changed[item_id] = fields
    return {"as_of": _iso(now), "added": added, "removed": removed, "changed": changed}
