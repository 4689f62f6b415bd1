"""Rituals and the review board: schedule a team's meetings, run a session's agenda, record its decisions."""

from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors
from core.once import once
from core.text import markdown_html
from improvement.models import Action, Stage
from improvement.views.actions import ABANDON_HINT, MOVE_HINTS, move_fields, move_options
from incidents.models import Incident, Postmortem
from rituals import agenda, review_board
from rituals import my_work as my_work_reads
from rituals import selectors as ritual_selectors
from rituals import services as ritual_services
from rituals.forms import AttendanceForm, BoardDecisionForm, NotesForm, RitualForm
from rituals.models import ReviewDecision, ReviewSession, Ritual
from teams.decorators import team_view
from teams.models import Membership

LEAD = Membership.Role.LEAD

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


_AGENDA_DATETIMES = ("started_at", "resolved_at", "created_at", "stage_entered_at", "last_moved_at", "check_due_at")


def _ritual(team, pk) -> Ritual:
    ritual = Ritual.objects.filter(team=team, pk=pk).prefetch_related("attendees").first()
    if ritual is None:
        raise Http404
    return ritual


def _session(team, pk) -> ReviewSession:
    session = (
        ReviewSession.objects.filter(team=team, pk=pk)
        .select_related("ritual", "previous", "next_session")
        .prefetch_related("attendees")
        .first()
    )
    if session is None:
        raise Http404
    return session


@require_GET
@team_view()
def rituals(request, team):
    """The team's rituals, their open sessions and the last closed ones."""
    items = team.rituals.prefetch_related("attendees").order_by("name")
    sessions = ReviewSession.objects.filter(team=team).select_related("ritual").order_by("-occurrence")[:20]
    return render(request, "rituals/rituals.html", {"team": team, "rituals": items, "sessions": sessions})


def _ritual_form_view(request, team, ritual=None):
    initial = RitualForm.initial_from(ritual) if ritual else None
    form = RitualForm(request.POST or None, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        attendees = fields.pop("attendees")
        fields["rrule"] = fields["rrule"] or ""
        fields["chat_webhook_url"] = fields["chat_webhook_url"] or ""
        try:
            if ritual is None:
                ritual_services.create_ritual(team=team, attendees=attendees, **fields)
            else:
                ritual_services.update_ritual(ritual=ritual, attendees=attendees, **fields)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Ritual saved."))
            return redirect("rituals:rituals", team.slug)
    status = 400 if form.errors else 200
    return render(request, "rituals/ritual_form.html", {"team": team, "form": form, "ritual": ritual}, status=status)


@team_view(LEAD)
@once
def ritual_create(request, team):
    return _ritual_form_view(request, team)


@team_view(LEAD)
def ritual_edit(request, team, pk):
    return _ritual_form_view(request, team, _ritual(team, pk))


def _agenda_by_section(session: ReviewSession) -> list[dict]:
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


def _with_moves(items: list[dict], session: ReviewSession) -> list[dict]:
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


def _agenda_item(raw: dict, number: int, decisions: list) -> dict:
    """One frozen item shaped for _review_item.html: its number on the agenda, typed dates, its decisions."""
    data = dict(raw.get("data") or {})
    for key in _AGENDA_DATETIMES:
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
        "status_label": _status_label(raw["kind"], data.get("status")),
        "is_action": raw["kind"] in ACTION_ITEM_KINDS,
        "decisions": [d for d in decisions if d.kind != ReviewDecision.Kind.DISCUSSED],
        # Deciding something on an item means the board discussed it.
        "discussed": bool(decisions),
    }


def _status_label(kind: str, status) -> str:
    """The translated name of an incident's or a postmortem's status (never its stored value)."""
    choices = {"incident": Incident.Status, "postmortem": Postmortem.Status}.get(kind)
    if choices is None or status not in choices.values:
        return status or ""
    return choices(status).label


def _decisions_by_item(session: ReviewSession, item_ids) -> dict[str, list]:
    by_item: dict[str, list] = {}
    for decision in ritual_selectors.decisions_on_items(session, item_ids):
        by_item.setdefault(decision.item_id, []).append(decision)
    return by_item


def _agenda_view(session: ReviewSession) -> dict:
    """The board: each section with at most REVIEW_SECTION_CAP items, the rest counted and linked to its page.

    A section that does not fit shows its undiscussed items first (in the agenda's order), so the
    board moves on to what is left as the meeting goes; one that fits keeps the agenda's order.
    The first CAP undiscussed items are among the first CAP + discussed ones: only those are read.
    """
    sections = [s for s in _agenda_by_section(session) if s["count"]]
    candidates = {}
    for section in sections:
        window = section["raw"][: REVIEW_SECTION_CAP + section["discussed"]]
        candidates[section["kind"]] = list(enumerate(window, start=section["first"]))
    by_item = _decisions_by_item(session, [raw["id"] for numbered in candidates.values() for _n, raw in numbered])
    for section in sections:
        numbered = candidates[section["kind"]]
        if section["count"] > REVIEW_SECTION_CAP:
            numbered = sorted(numbered, key=lambda pair: pair[1]["id"] in by_item)  # stable: order kept
        shown = numbered[:REVIEW_SECTION_CAP]
        section["items"] = [_agenda_item(raw, number, by_item.get(raw["id"], [])) for number, raw in shown]
        section["more"] = section["count"] - len(shown)
    _with_moves([item for section in sections for item in section["items"]], session)
    total = sum(s["count"] for s in sections)
    return {"sections": sections, "total": total, "done": sum(s["discussed"] for s in sections)}


def _agenda_section(session: ReviewSession, kind: str, page_number) -> dict:
    """One section of the agenda, paged in the agenda's order (an out-of-range page is the last one)."""
    sections = _agenda_by_section(session)
    section = next((s for s in sections if s["kind"] == kind), None)
    if section is None:  # not a section of the agenda
        raise Http404
    page = Paginator(section["raw"], REVIEW_SECTION_PAGE_SIZE).get_page(page_number)
    by_item = _decisions_by_item(session, [raw["id"] for raw in page])
    first = section["first"] + page.start_index() - 1
    section["items"] = [
        _agenda_item(raw, first + index, by_item.get(raw["id"], [])) for index, raw in enumerate(page.object_list)
    ]
    _with_moves(section["items"], session)
    return {"section": section, "page": page, "total": sum(s["count"] for s in sections)}


def _agenda_item_alone(session: ReviewSession, item_id: str) -> dict:
    """One item of the agenda, wherever it is shown (board or section page), for redrawing it in place."""
    sections = _agenda_by_section(session)
    for section in sections:
        for index, raw in enumerate(section["raw"]):
            if raw["id"] == item_id:
                decisions = _decisions_by_item(session, [item_id]).get(item_id, [])
                item = _with_moves([_agenda_item(raw, section["first"] + index, decisions)], session)[0]
                return {"item": item, "section": section, "total": sum(s["count"] for s in sections)}
    raise Http404


def _session_context(request, team, session, **extra):
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


@require_GET
@team_view()
def review_session(request, team, pk):
    """The review board: each agenda section (capped, the rest on its own page), decisions, attendance and notes."""
    session = _session(team, pk)
    context = _session_context(
        request,
        team,
        session,
        attendance_form=AttendanceForm(team=team, initial={"attendees": list(session.attendees.all())}),
        notes_form=NotesForm(initial={"notes": session.notes}),
        cap=REVIEW_SECTION_CAP,
        since_freeze=_since_freeze(session),
        summary_html=_summary_html(session),
        moved=ritual_selectors.moved_since_last_session(session),
        **_agenda_view(session),
    )
    return render(request, "rituals/review.html", context)


def _summary_html(session: ReviewSession) -> str:
    """The closed session's summary as HTML (escaped Markdown rendered without raw HTML); '' while open."""
    if session.status != ReviewSession.Status.CLOSED or not session.summary:
        return ""
    return mark_safe(markdown_html(session.summary, heading_offset=2))  # noqa: S308 -- markdown_html escapes raw HTML


def _since_freeze(session: ReviewSession) -> list[dict]:
    """What would be on the agenda now but was not frozen (read-only: the frozen agenda is the meeting's).

    Only while the session is open; a constant number of queries (agenda.changes_since_freeze).
    """
    if session.status != ReviewSession.Status.OPEN or not session.agenda or "monthly" in session.agenda:
        return []  # a monthly review's agenda is the month's figures, not items that come in
    added = agenda.changes_since_freeze(session)["added"]
    for item in added:
        item["section_label"] = AGENDA_SECTIONS.get(item.get("section"), "")
        item["reason_labels"] = [REASON_LABELS[r] for r in item.get("reasons", []) if r in REASON_LABELS]
    return added


@require_GET
@team_view()
def review_section(request, team, pk, kind):
    """One section of a session's agenda, page by page, with the same per-item controls as the board."""
    session = _session(team, pk)
    shaped = _agenda_section(session, kind, request.GET.get("page"))
    decide_url = reverse("rituals:review_decide", args=[team.slug, session.pk]) + f"?page={shaped['page'].number}"
    context = _session_context(request, team, session, decide_url=decide_url, **shaped)
    return render(request, "rituals/review_section.html", context)


def _after_decision_url(team, session, item_id: str, page: str, present: str = "") -> str:
    """Back where the decision was taken: presenter mode (?present=N), the section page (?page=), else the board."""
    if present.isdigit():
        return reverse("rituals:review_present", args=[team.slug, session.pk]) + f"?item={present}"
    anchor = "#item-" + quote(item_id, safe=":")
    section = next((i["section"] for i in agenda.readable(session.agenda).get("items", []) if i["id"] == item_id), "")
    if page.isdigit() and section in AGENDA_SECTIONS:
        url = reverse("rituals:review_section", args=[team.slug, session.pk, section])
        return f"{url}?page={page}{anchor}"
    return reverse("rituals:review", args=[team.slug, session.pk]) + anchor


@require_POST
@team_view(LEAD)
@once
def review_decide(request, team, pk):
    """One decision on one agenda item; with htmx, the item is redrawn in place (or shows why not)."""
    session = _session(team, pk)
    form = BoardDecisionForm(request.POST, team=team)
    if form.is_valid():
        data = form.cleaned_data
        common = {"session": session, "item_id": data["item_id"], "by": request.user}
        try:
            if data["decision"] == "discussed":
                review_board.mark_discussed(**common, note=data["note"])
            elif data["decision"] == "move":
                to = data["to_stage"]
                extra = {"reason": data["note"]} if to == Stage.ABANDONED else {"note": data["note"]}
                if data["verdict"]:
                    extra["verdict"] = data["verdict"]
                if data["decision_taken"]:
                    extra["decision"] = data["decision_taken"]
                review_board.move_from_board(**common, action_id=data["action_id"], to_stage=to, **extra)
            elif data["decision"] == "assign":
                review_board.assign_from_board(**common, action_id=data["action_id"], owner=data["owner"])
            elif data["decision"] == "redate":
                review_board.redate_from_board(**common, action_id=data["action_id"], due_date=data["due_date"])
            else:
                review_board.create_action_from_board(
                    **common, title=data["title"], owner=data["owner"], due_date=data["due_date"]
                )
        except ValidationError as error:
            add_service_errors(form, error)
    item_id = request.POST.get("item_id", "")
    if not request.htmx:
        if form.errors:
            messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        back = _after_decision_url(team, session, item_id, request.GET.get("page", ""), request.GET.get("present", ""))
        return redirect(back)
    session = _session(team, pk)
    context = _session_context(
        request,
        team,
        session,
        decide_url=request.get_full_path(),
        item_errors=form.errors if form.errors else None,
        open_decision=form.data.get("decision"),
        **_agenda_item_alone(session, item_id),
    )
    return render(request, "rituals/_review_decided.html", context, status=400 if form.errors else 200)


@require_POST
@team_view(LEAD)
def review_attendance(request, team, pk):
    session = _session(team, pk)
    form = AttendanceForm(request.POST, team=team)
    if form.is_valid():
        try:
            review_board.set_attendance(session=session, attendees=form.cleaned_data["attendees"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Attendance saved."))
    return redirect(reverse("rituals:review", args=[team.slug, pk]) + "#attendance")


@require_POST
@team_view(LEAD)
def review_notes(request, team, pk):
    session = _session(team, pk)
    form = NotesForm(request.POST)
    if form.is_valid():
        try:
            review_board.save_notes(session=session, notes=form.cleaned_data["notes"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Notes saved."))
    return redirect(reverse("rituals:review", args=[team.slug, pk]) + "#notes")


# The confirmation before closing names at most this many of the items left undiscussed.
CLOSE_CONFIRM_LIST = 50


@require_POST
@team_view(LEAD)
def review_close(request, team, pk):
    """Close the session: its summary is written and kept, and the next session links to it.

    With items left undiscussed, the first POST asks for confirmation and names them; confirmed
    (carry_over=1), they open the next session's agenda.
    """
    session = _session(team, pk)
    carry_over = request.POST.get("carry_over") == "1"
    try:
        review_board.close_session(session=session, by=request.user, carry_over=carry_over)
    except ValidationError as error:
        codes = {e.code for errors in getattr(error, "error_dict", {}).values() for e in errors}
        if "confirm" in codes and session.status == ReviewSession.Status.OPEN:
            left = review_board.undiscussed_items(session)
            context = {
                "team": team,
                "session": session,
                "message": " ".join(error.messages),
                "left": left[:CLOSE_CONFIRM_LIST],
                "more": max(0, len(left) - CLOSE_CONFIRM_LIST),
                "count": len(left),
            }
            return render(request, "rituals/review_close_confirm.html", context, status=409)
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Session closed. Its summary is below and can be exported as Markdown."))
    return redirect("rituals:review", team.slug, pk)


@require_GET
@team_view()
def review_export(request, team, pk):
    """The session's summary as a Markdown file (a draft while the session is open)."""
    session = _session(team, pk)
    text = session.summary if session.status == ReviewSession.Status.CLOSED else review_board.session_markdown(session)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"{team.slug}-review-{timezone.localtime(session.occurrence):%Y-%m-%d}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@team_view()
def my_work(request, team):
    """My open and overdue actions, the postmortems I write or review, and the next review I attend."""
    actions = list(my_work_reads.my_open_actions(team, request.user))
    today = timezone.localdate()
    context = {
        "team": team,
        "actions": actions,
        "overdue": [a for a in actions if a.due_date and a.due_date < today],
        "today": today,
        "postmortems": my_work_reads.my_postmortems(team, request.user),
        **my_work_reads.my_next_review(team, request.user),
    }
    return render(request, "rituals/my_work.html", context)
