"""Presenter mode: the review board one item at a time, for a shared screen, with its context inline.

The item's decisions are the board's own forms (rituals/_review_item.html, posted to
review_decide): the same legal moves, the same services. Plain links go from one item to the
next; rituals/presenter.js adds the keyboard, the section's timer and the announcements.
"""

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from improvement.models import Check
from incidents.models import TimelineEvent
from reporting import metrics
from rituals.views.agenda_items import (
    agenda_by_section,
    agenda_item,
    decisions_by_item,
    session_context,
    session_or_404,
    with_moves,
)
from teams.decorators import team_view

# The incident's timeline excerpt: its last events, newest last.
TIMELINE_EXCERPT = 6


def _position(sections: list[dict], number: int) -> tuple[dict, int, dict] | None:
    """The section, 0-based index in it and frozen item of the agenda's item `number` (1-based)."""
    for section in sections:
        if section["first"] <= number < section["first"] + section["count"]:
            index = number - section["first"]
            return section, index, section["raw"][index]
    return None


def _context_of(team, session, item: dict) -> dict:
    """What the board needs beside the item: an excerpt, a Check, a control chart (a constant number of queries)."""
    kind = item["kind"]
    if kind == "incident" and item.get("object_id"):
        events = TimelineEvent.objects.filter(team=team, incident_id=item["object_id"]).order_by("-occurred_at", "-pk")
        return {"timeline": list(events.select_related("author")[:TIMELINE_EXCERPT])[::-1]}
    if item["is_action"] and item.get("object_id"):
        check = Check.objects.filter(team=team, action_id=item["object_id"]).select_related("decided_by").first()
        if check is None:
            return {"check": None}
        top = max(abs(check.baseline_value or 0), abs(check.observed_value or 0), 1e-9)
        return {
            "check": check,
            "bar_baseline": round(100 * abs(check.baseline_value or 0) / top),
            "bar_observed": round(100 * abs(check.observed_value or 0) / top),
        }
    if kind == "metric_signal":
        # The dashboard's own series (reporting.metrics), as of the agenda's freeze.
        frozen_at = parse_datetime((session.agenda or {}).get("frozen_at") or "") or session.occurrence
        series = metrics.weekly_series(metrics.build_scope(teams=team, now=frozen_at))["series"]
        return {"series": series.get((item.get("data") or {}).get("metric"))}
    return {}


@require_GET
@team_view()
def review_present(request, team, pk):
    """One agenda item, big, with its context and the board's decisions; ?item=N (1-based, agenda order)."""
    session = session_or_404(team, pk)
    sections = [s for s in agenda_by_section(session) if s["count"]]
    total = sum(s["count"] for s in sections)
    number = request.GET.get("item", "1")
    number = int(number) if number.isdigit() else 1
    if total and not 1 <= number <= total:
        raise Http404
    url = reverse("rituals:review_present", args=[team.slug, session.pk])
    context = session_context(request, team, session, total=total, sections=sections, present_url=url)
    found = _position(sections, number) if total else None
    if found is None:
        return render(request, "rituals/review_present.html", context)
    section, _index, raw = found
    decisions = decisions_by_item(session, [raw["id"]]).get(raw["id"], [])
    item = with_moves([agenda_item(raw, number, decisions)], session)[0]
    done = sum(s["discussed"] for s in sections)
    context.update(
        item=item,
        section=section,
        done=done,
        previous_number=number - 1 if number > 1 else None,
        next_number=number + 1 if number < total else None,
        decide_url=reverse("rituals:review_decide", args=[team.slug, session.pk]) + f"?present={number}",
        **_context_of(team, session, item),
    )
    return render(request, "rituals/review_present.html", context)
