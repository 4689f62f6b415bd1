"""Reads on review sessions, shaped for the review board."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Func, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from improvement.models import OPEN_STAGES, Action, Check, Stage, StageTransition, Verdict
from incidents.models import Incident, Severity
from rituals import agenda
from rituals.models import ReviewDecision, ReviewSession, Ritual
from teams.models import Membership, Team


def ritual_for_page(team: Team, pk: int) -> Ritual:
    """One ritual of `team` with its attendees; DoesNotExist for another team's."""
    return Ritual.objects.filter(team=team).prefetch_related("attendees").get(pk=pk)


def session_for_page(team: Team, pk: int) -> ReviewSession:
    """One review session of `team` with its ritual, neighbours and attendees; DoesNotExist for another team's."""
    return (
        ReviewSession.objects.filter(team=team)
        .select_related("ritual", "previous", "next_session")
        .prefetch_related("attendees")
        .get(pk=pk)
    )


def decided_item_ids(session: ReviewSession) -> set[str]:
    """The agenda items the board has discussed (decided anything on): one query, whatever the agenda's size."""
    return set(session.decisions.exclude(item_id="").values_list("item_id", flat=True).distinct())


def decisions_on_items(session: ReviewSession, item_ids) -> QuerySet[ReviewDecision]:
    """The decisions taken on these agenda items, in the order they were taken, with who and which action."""
    return session.decisions.filter(item_id__in=list(item_ids)).select_related("by", "action").order_by("at", "id")


def members_with_load(team: Team, *, today: dt.date):
    """The team's possible owners (members and leads), each with `open_actions` and `overdue_actions` (one query)."""
    mine = Action.objects.filter(team=team, owner=OuterRef("pk"), stage__in=OPEN_STAGES)
    count = Func(F("pk"), function="COUNT")
    open_count = mine.order_by().values("owner").annotate(n=count).values("n")
    overdue_count = mine.filter(due_date__lt=today).order_by().values("owner").annotate(n=count).values("n")
    roles = [Membership.Role.MEMBER, Membership.Role.LEAD]
    return (
        get_user_model()
        .objects.filter(memberships__team=team, memberships__role__in=roles)
        .annotate(
            open_actions=Coalesce(Subquery(open_count), 0),
            overdue_actions=Coalesce(Subquery(overdue_count), 0),
        )
        .order_by("username")
    )


def moved_since_last_session(session: ReviewSession) -> dict:
    """What changed between the last session and this one's agenda freeze, counted in the database.

    New incidents by severity, actions closed (done or abandoned), Check verdicts reached, and the
    metric signals that appeared or cleared (this frozen agenda against the previous one; the
    previous session comes with `session`, select_related). Three queries, whatever the volume.
    """
    frozen = session.agenda or {}
    start = parse_datetime(frozen["since"]) if frozen.get("since") else None
    end = parse_datetime(frozen["frozen_at"]) if frozen.get("frozen_at") else session.occurrence
    if start is None:
        start = session.previous.occurrence if session.previous_id else end - dt.timedelta(days=7)
    window = {"team_id": session.team_id}
    severities = dict(
        Incident.objects.filter(**window, started_at__gte=start, started_at__lt=end)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("pk"))
    )
    closed = dict(
        StageTransition.objects.filter(**window, at__gte=start, at__lt=end, to_stage__in=[Stage.DONE, Stage.ABANDONED])
        .order_by()
        .values_list("to_stage")
        .annotate(n=Count("action_id", distinct=True))
    )
    verdicts = dict(
        Check.objects.filter(**window, measured_at__gte=start, measured_at__lt=end)
        .exclude(verdict="")
        .order_by()
        .values_list("verdict")
        .annotate(n=Count("pk"))
    )
    now_signals = _signals_of(frozen)
    before = _signals_of(session.previous.agenda) if session.previous_id and session.previous else {}
    return {
        "start": start,
        "end": end,
        "incidents": [
            {"severity": value, "label": label, "count": severities.get(value, 0)} for value, label in Severity.choices
        ],
        "incident_total": sum(severities.values()),
        "done": closed.get(Stage.DONE, 0),
        "abandoned": closed.get(Stage.ABANDONED, 0),
        "verdicts": [{"verdict": v, "label": label, "count": verdicts.get(v, 0)} for v, label in Verdict.choices],
        "appeared": [now_signals[key] for key in now_signals if key not in before],
        "cleared": [before[key] for key in before if key not in now_signals],
        "has_previous": bool(session.previous_id),
    }


def _signals_of(frozen: dict | None) -> dict[str, str]:
    """The metric signals of a frozen agenda, keyed by metric: their label."""
    signals = {}
    for item in agenda.readable(frozen or {}).get("items", []):
        if item.get("kind") == "metric_signal":
            data = item.get("data") or {}
            signals[data.get("metric") or item["id"]] = data.get("label") or item.get("title", "")
    return signals
