"""The frozen agenda shaped for the review board, its section pages and presenter mode.

Nothing here writes; each function reads a constant number of queries whatever the agenda's size.
"""

from django.core.paginator import Paginator
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.forms import or_404
from improvement.models import Action, Stage
from improvement.views.actions import ABANDON_HINT, MOVE_HINTS, move_fields, move_options
from incidents.models import Incident, Postmortem
from rituals import agenda
from rituals import selectors as ritual_selectors
from rituals.forms import BoardDecisionForm
from rituals.models import ReviewDecision, ReviewSession

# The agenda's sections (rituals.agenda.SECTIONS), in the order the board decides them.
AGENDA_SECTIONS = {
    "carried_over": gettext_lazy("Carried over from the previous session"),
    "signals": gettext_lazy("Recurrences and signals"),
    "checks": gettext_lazy("Check results to decide"),
    "incidents": gettext_lazy("New SEV1–SEV2 incidents"),
    "overdue": gettext_lazy("Overdue work"),
    "other": gettext_lazy("The rest"),
    "if_time_allows": gettext_lazy("If time allows"),
}

# Why an item is on the agenda, as the board reads it.
REASON_LABELS = {
    "recurrence": gettext_lazy("recurrence"),
    "check_due": gettext_lazy("Check result to decide"),
    "overdue": gettext_lazy("overdue"),
    "stale": gettext_lazy("stale"),
}

ACTION_ITEM_KINDS = set(agenda.ACTION_KINDS)

# The board shows at most this many items per agenda section; the rest are on the section's own
# page, REVIEW_SECTION_PAGE_SIZE at a time. A backlog of ~2 000 open actions puts hundreds of items
# in a section, and rendering all of them (each with its decision forms) took seconds.
REVIEW_SECTION_CAP = 20

REVIEW_SECTION_PAGE_SIZE = 50

AGENDA_DATETIMES = ("started_at", "resolved_at", "created_at", "stage_entered_at", "last_moved_at", "check_due_at")

session_or_404 = or_404(ritual_selectors.session_for_page)


def agenda_by_section(session: ReviewSession) -> list[dict]:
    """The frozen agenda split into its sections, in order: items as frozen, the number of the first, counts.

    One pass over the frozen list (any version, read by agenda.readable) and one query (the items
    decided on, from the ReviewDecision rows); nothing here is shaped for display yet, so the cost
    of a section does not depend on its size.
    """
    frozen = agenda.readable(session.agenda)
    by_key: dict[str, list] = {key: [] for key in AGENDA_SECTIONS}
    section_of = {}
    for raw in frozen.get("items", []):
        if raw.get("section") in by_key:
            by_key[raw["section"]].append(raw)
            section_of[raw["id"]] = raw["section"]
    discussed = dict.fromkeys(AGENDA_SECTIONS, 0)
    for item_id in ritual_selectors.decided_item_ids(session):
        if item_id in section_of:
            discussed[section_of[item_id]] += 1
    minutes = {s["key"]: s.get("minutes") for s in frozen.get("sections", [])} if frozen.get("version", 1) >= 2 else {}
    sections, first = [], 1
    for key, label in AGENDA_SECTIONS.items():
        raws = by_key[key]
        sections.append(
            {
                "kind": key,
                "label": label,
                "raw": raws,
                "first": first,
                "count": len(raws),
                "discussed": discussed[key],
                "minutes": minutes.get(key) or None,
            }
        )
        first += len(raws)
    return sections


def with_moves(items: list[dict], session: ReviewSession) -> list[dict]:
    """Give each shown action item the moves its action may make now, with what each needs (one query)."""
    ids = {item["object_id"] for item in items if item["is_action"] and item.get("object_id")}
    stages = dict(Action.objects.filter(team_id=session.team_id, pk__in=ids).values_list("pk", "stage")) if ids else {}
    for item in items:
        stage = stages.get(item.get("object_id")) if item["is_action"] else None
        item["current_stage"] = stage
        item["current_stage_label"] = Stage(stage).label if stage else ""
        item["moves"] = board_moves(stage) if stage else []
    return items


def board_moves(stage: str) -> list[dict]:
    """The legal moves from `stage` (improvement's rules), each with its label, hint and the fields it needs."""
    moves = []
    for option in move_options(Action(stage=stage)):
        to = option["to"]
        fields = move_fields(stage, to)
        moves.append(
            {
                "to": to,
                "label": option["label"],
                "hint": ABANDON_HINT if to == Stage.ABANDONED else MOVE_HINTS.get((stage, to), ""),
                "needs_verdict": "verdict" in fields,
                "needs_decision": "decision" in fields,
                "note_label": _("Reason") if "reason" in fields else _("Note"),
            }
        )
    return moves


def agenda_item(raw: dict, number: int, decisions: list) -> dict:
    """One frozen item shaped for _review_item.html: its number on the agenda, typed dates, its decisions."""
    data = dict(raw.get("data") or {})
    for key in AGENDA_DATETIMES:
        if isinstance(data.get(key), str):
            data[key] = parse_datetime(data[key])
    if isinstance(data.get("due_date"), str):
        data["due_date"] = parse_date(data["due_date"])
    reasons = [REASON_LABELS[r] for r in raw.get("reasons", []) if r in REASON_LABELS]
    if raw.get("carried_over_from"):
        reasons.insert(0, _("carried over from %(date)s") % {"date": raw["carried_over_from"]})
    return {
        **raw,
        "number": number,
        "data": data,
        "reason_labels": reasons,
        "stage_label": Stage(data["stage"]).label if data.get("stage") in Stage.values else "",
        "status_label": status_label(raw["kind"], data.get("status")),
        "is_action": raw["kind"] in ACTION_ITEM_KINDS,
        "decisions": [d for d in decisions if d.kind != ReviewDecision.Kind.DISCUSSED],
        # Deciding something on an item means the board discussed it.
        "discussed": bool(decisions),
    }


def status_label(kind: str, status) -> str:
    """The translated name of an incident's or a postmortem's status (never its stored value)."""
    choices = {"incident": Incident.Status, "postmortem": Postmortem.Status}.get(kind)
    if choices is None or status not in choices.values:
        return status or ""
    return choices(status).label


def decisions_by_item(session: ReviewSession, item_ids) -> dict[str, list]:
    by_item: dict[str, list] = {}
    for decision in ritual_selectors.decisions_on_items(session, item_ids):
        by_item.setdefault(decision.item_id, []).append(decision)
    return by_item


def agenda_view(session: ReviewSession) -> dict:
    """The board: each section with at most REVIEW_SECTION_CAP items, the rest counted and linked to its page.

    A section that does not fit shows its undiscussed items first (in the agenda's order), so the
    board moves on to what is left as the meeting goes; one that fits keeps the agenda's order.
    The first CAP undiscussed items are among the first CAP + discussed ones: only those are read.
    """
    sections = [s for s in agenda_by_section(session) if s["count"]]
    candidates = {}
    for section in sections:
        window = section["raw"][: REVIEW_SECTION_CAP + section["discussed"]]
        candidates[section["kind"]] = list(enumerate(window, start=section["first"]))
    by_item = decisions_by_item(session, [raw["id"] for numbered in candidates.values() for _n, raw in numbered])
    for section in sections:
        numbered = candidates[section["kind"]]
        if section["count"] > REVIEW_SECTION_CAP:
            numbered = sorted(numbered, key=lambda pair: pair[1]["id"] in by_item)  # stable: order kept
        shown = numbered[:REVIEW_SECTION_CAP]
        section["items"] = [agenda_item(raw, number, by_item.get(raw["id"], [])) for number, raw in shown]
        section["more"] = section["count"] - len(shown)
    with_moves([item for section in sections for item in section["items"]], session)
    total = sum(s["count"] for s in sections)
    return {"sections": sections, "total": total, "done": sum(s["discussed"] for s in sections)}


def agenda_section(session: ReviewSession, kind: str, page_number) -> dict:
    """One section of the agenda, paged in the agenda's order (an out-of-range page is the last one)."""
    sections = agenda_by_section(session)
    section = next((s for s in sections if s["kind"] == kind), None)
    if section is None:  # not a section of the agenda
        raise Http404
    page = Paginator(section["raw"], REVIEW_SECTION_PAGE_SIZE).get_page(page_number)
    by_item = decisions_by_item(session, [raw["id"] for raw in page])
    first = section["first"] + page.start_index() - 1
    section["items"] = [
        agenda_item(raw, first + index, by_item.get(raw["id"], [])) for index, raw in enumerate(page.object_list)
    ]
    with_moves(section["items"], session)
    return {"section": section, "page": page, "total": sum(s["count"] for s in sections)}


def agenda_item_alone(session: ReviewSession, item_id: str) -> dict:
    """One item of the agenda, wherever it is shown (board or section page), for redrawing it in place."""
    sections = agenda_by_section(session)
    for section in sections:
        for index, raw in enumerate(section["raw"]):
            if raw["id"] == item_id:
                decisions = decisions_by_item(session, [item_id]).get(item_id, [])
                item = with_moves([agenda_item(raw, section["first"] + index, decisions)], session)[0]
                return {"item": item, "section": section, "total": sum(s["count"] for s in sections)}
    raise Http404


def session_context(request, team, session, **extra):
    """What the board and a section page share: the session, its time zone and what an item's forms need."""
    return {
        "team": team,
        "session": session,
        "agenda": agenda.readable(session.agenda),
        "agenda_tz": (session.agenda or {}).get("timezone") or session.ritual.timezone,
        "verdicts": BoardDecisionForm.base_fields["verdict"].choices,
        "act_decisions": BoardDecisionForm.base_fields["decision_taken"].choices,
        "is_open": session.status == ReviewSession.Status.OPEN,
        # Each possible owner with their open and overdue actions, beside every reassign control.
        "members": list(ritual_selectors.members_with_load(team, today=timezone.localdate(timezone=team.tzinfo))),
        "decide_url": reverse("rituals:review_decide", args=[team.slug, session.pk]),
        **extra,
    }
