"""PDCA board, action pages, team dashboard, rituals and review board.

Every stage move goes through improvement.services.move_action; a refusal is
shown in place, next to the card, with the service's own words.
"""

from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from improvement import metrics, review_board, selectors, services
from improvement.filters import ActionFilterSet
from improvement.forms import (
    ActionForm,
    AttendanceForm,
    BoardDecisionForm,
    CheckForm,
    MoveForm,
    NotesForm,
    RitualForm,
)
from improvement.models import OPEN_STAGES, Action, Check, ReviewDecision, ReviewSession, Ritual, Stage
from incidents.models import Incident, Postmortem
from teams.decorators import once, team_view
from teams.forms import add_service_errors
from teams.models import Membership

MEMBER = Membership.Role.MEMBER
LEAD = Membership.Role.LEAD

# What a move is called on its button, and what the target stage asks for.
MOVE_LABELS = {
    (Stage.PLAN, Stage.DO): gettext_lazy("Start: move to Do"),
    (Stage.DO, Stage.CHECK): gettext_lazy("Done: move to Check"),
    (Stage.DO, Stage.PLAN): gettext_lazy("Back to Plan"),
    (Stage.CHECK, Stage.ACT): gettext_lazy("Measured: move to Act"),
    (Stage.CHECK, Stage.DO): gettext_lazy("Back to Do"),
    (Stage.ACT, Stage.DONE): gettext_lazy("Decide and close the cycle"),
}
MOVE_HINTS = {
    (Stage.PLAN, Stage.DO): gettext_lazy(
        "Leaving Plan needs a problem statement, a hypothesis, an owner, a due date and a target with a direction."
    ),
    (Stage.DO, Stage.CHECK): gettext_lazy(
        "Show the change was made: a ticket or a linked change, or describe what was done."
    ),
    (Stage.DO, Stage.PLAN): gettext_lazy("Say why the action goes back."),
    (Stage.CHECK, Stage.DO): gettext_lazy("Say why the action goes back."),
    (Stage.CHECK, Stage.ACT): gettext_lazy(
        "Give the baseline and the observed value over the same window length, and the verdict."
    ),
    (Stage.ACT, Stage.DONE): gettext_lazy(
        "Standardise only an action verified effective; adjust opens the next cycle, linked to this one."
    ),
}
ABANDON_LABEL = gettext_lazy("Abandon")
ABANDON_HINT = gettext_lazy("Say why the action is abandoned.")


def move_options(action: Action) -> list[dict]:
    """The moves a card offers, forward first, each with its button label."""
    options = []
    for (current, to), label in MOVE_LABELS.items():
        if current == action.stage:
            options.append({"to": to, "label": label, "backward": (current, to) in services.BACKWARD})
    if action.is_open:
        options.append({"to": Stage.ABANDONED, "label": ABANDON_LABEL, "backward": True})
    return sorted(options, key=lambda o: o["backward"])


def move_fields(current: str, to: str) -> list[str]:
    if to == Stage.ABANDONED:
        return ["reason"]
    if (current, to) == (Stage.CHECK, Stage.ACT):
        return ["baseline_value", "observed_value", "verdict", "note"]
    if (current, to) == (Stage.ACT, Stage.DONE):
        return ["decision", "note"]
    return ["note"]


def _action(team, pk) -> Action:
    try:
        return selectors.action_for_page(team, pk)
    except Action.DoesNotExist:
        raise Http404 from None


def _check_of(action: Action) -> Check | None:
    return getattr(action, "check_result", None)


def _board_context(request, team):
    filterset = ActionFilterSet(request.GET or None, queryset=selectors.open_actions_for_board(team), request=request)
    actions = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.open_actions_for_board(team)
    today = timezone.localdate()
    columns = {stage: [] for stage in OPEN_STAGES}
    for action in actions:
        action.moves = move_options(action)
        action.plan_gaps = services.plan_gaps(action) if action.stage == Stage.PLAN else {}
        action.is_overdue = bool(action.due_date and action.due_date < today)
        action.days_in_stage = (timezone.now() - action.stage_entered_at).days
        columns[action.stage].append(action)
    hints = {
        Stage.PLAN: _("Problem, hypothesis, owner, due date, target."),
        Stage.DO: _("Carry out the change; link the ticket."),
        Stage.CHECK: _("Measure: baseline vs observed, verdict."),
        Stage.ACT: _("Standardise, adjust or abandon."),
    }
    return {
        "team": team,
        "filterset": filterset,
        "columns": [
            {"stage": stage, "label": Stage(stage).label, "hint": hints[stage], "actions": columns[stage]}
            for stage in OPEN_STAGES
        ],
    }


@require_GET
@team_view()
def board(request, team):
    """The PDCA board: the team's open actions in Plan, Do, Check and Act."""
    return render(request, "improvement/board.html", _board_context(request, team))


@team_view(MEMBER)
@once
def action_create(request, team):
    incident = None
    if request.GET.get("incident", "").isdigit():
        incident = Incident.objects.filter(team=team, pk=request.GET["incident"]).first()
    initial = {"title": incident.title, "target_service": incident.service_id} if incident else {}
    form = ActionForm(request.POST or None, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        links = {"incidents": [incident]} if incident else {}
        origin = Action.Origin.INCIDENT if incident else Action.Origin.SUGGESTION
        try:
            action = services.create_action(
                team=team, by=request.user, origin=origin, links=links, **form.service_fields()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Action created in Plan."))
            return redirect("improvement:action_detail", team.slug, action.pk)
    status = 400 if form.errors else 200
    context = {"team": team, "form": form, "incident": incident}
    return render(request, "improvement/action_form.html", context, status=status)


@team_view(MEMBER)
def action_edit(request, team, pk):
    action = _action(team, pk)
    form = ActionForm(request.POST or None, team=team, action=action, initial=ActionForm.initial_from(action))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_action(action=action, **form.service_fields())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Action updated."))
            return redirect("improvement:action_detail", team.slug, action.pk)
    status = 400 if form.errors else 200
    return render(
        request, "improvement/action_form.html", {"team": team, "form": form, "action": action}, status=status
    )


@require_GET
@team_view()
def action_detail(request, team, pk):
    """An action: its plan and target, stage history, Check panel and previous / next cycles."""
    action = _action(team, pk)
    check = _check_of(action)
    check_form = None
    if action.stage == Stage.CHECK:
        initial = {"baseline_value": check.baseline_value, "observed_value": check.observed_value} if check else {}
        check_form = CheckForm(initial=initial | ({"verdict": check.verdict, "note": check.note} if check else {}))
    return render(request, "improvement/action_detail.html", _detail_context(team, action, check_form=check_form))


def _detail_context(team, action, **extra):
    check = _check_of(action)
    top = max(abs(check.baseline_value or 0), abs(check.observed_value or 0), 1e-9) if check else 1
    return {
        "team": team,
        "action": action,
        "check": check,
        "bar_baseline": round(100 * abs(check.baseline_value or 0) / top) if check else 0,
        "bar_observed": round(100 * abs(check.observed_value or 0) / top) if check else 0,
        "moves": move_options(action),
        "plan_gaps": services.plan_gaps(action) if action.stage == Stage.PLAN else {},
        "next_cycle": getattr(action, "next_cycle", None),
        "is_overdue": bool(action.is_open and action.due_date and action.due_date < timezone.localdate()),
        **extra,
    }


@team_view(MEMBER)
def action_move(request, team, pk):
    """GET: the form a move needs (in place on the card with htmx). POST: the move, through move_action."""
    action = _action(team, pk)
    to_stage = request.POST.get("to_stage") or request.GET.get("to", "")
    if to_stage not in {o["to"] for o in move_options(action)} and request.method == "GET":
        raise Http404
    origin = request.POST.get("origin") or request.GET.get("origin") or "board"
    form = MoveForm(request.POST or None, initial={"to_stage": to_stage, "from_stage": action.stage})
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.move_action(
                    action=action,
                    to_stage=data["to_stage"],
                    from_stage=data["from_stage"],
                    by=request.user,
                    note=data["note"],
                    reason=data["reason"],
                    decision=data["decision"] or "",
                    verdict=data["verdict"] or "",
                    baseline_value=data["baseline_value"],
                    observed_value=data["observed_value"],
                    via="ui",
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return _after_move(request, team, action, data["to_stage"], origin)
    elif action.stage == Stage.CHECK and (check := _check_of(action)):
        form.initial.update(
            {"baseline_value": check.baseline_value, "observed_value": check.observed_value, "verdict": check.verdict}
        )
    context = {
        "team": team,
        "action": action,
        "form": form,
        "to_stage": to_stage,
        "to_label": Stage(to_stage).label if to_stage in Stage.values else to_stage,
        "fields": move_fields(action.stage, to_stage),
        "hint": ABANDON_HINT if to_stage == Stage.ABANDONED else MOVE_HINTS.get((action.stage, to_stage), ""),
        "origin": origin,
        "plan_gaps": services.plan_gaps(action) if action.stage == Stage.PLAN else {},
    }
    template = "improvement/_move_form.html" if request.htmx else "improvement/move.html"
    return render(request, template, context, status=400 if form.errors else 200)


def _after_move(request, team, action, to_stage, origin):
    label = Stage(to_stage).label
    text = _("“%(title)s” moved to %(stage)s.") % {"title": action.title, "stage": label}
    detail_url = reverse("improvement:action_detail", args=[team.slug, action.pk])
    if request.htmx and origin == "board":
        # Redraw the whole board: the card changes column, and the refusal slot empties.
        context = _board_context(request, team) | {"moved_message": text}
        response = render(request, "improvement/_board.html", context)
        return reswap(retarget(response, "#board"), "outerHTML")
    messages.success(request, text)
    target = detail_url if origin == "detail" else reverse("improvement:board", args=[team.slug])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
@team_view(MEMBER)
def action_check(request, team, pk):
    """Record the measurement of an action in Check (baseline, observed, verdict)."""
    action = _action(team, pk)
    form = CheckForm(request.POST)
    if form.is_valid():
        try:
            services.record_check(action=action, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Measurement recorded."))
            return redirect("improvement:action_detail", team.slug, action.pk)
    context = _detail_context(team, action, check_form=form)
    return render(request, "improvement/action_detail.html", context, status=400)


@require_GET
@team_view()
def dashboard(request, team):
    """The team at a glance: open work, then the flexibility / speed / reliability figures with weekly sparklines."""
    today = timezone.localdate()
    action_counts = Action.objects.filter(team=team).aggregate(
        open=Count("id", filter=Q(stage__in=OPEN_STAGES)),
        overdue=Count("id", filter=Q(stage__in=OPEN_STAGES, due_date__lt=today)),
        **{stage: Count("id", filter=Q(stage=stage)) for stage in OPEN_STAGES},
    )
    incident_counts = Incident.objects.filter(team=team).aggregate(
        open=Count("id", filter=Q(status=Incident.Status.OPEN)),
    )
    waiting_postmortems = Postmortem.objects.filter(team=team).exclude(status=Postmortem.Status.PUBLISHED).count()
    board = metrics.team_dashboard(team)
    poles = metric_cards(board)
    context = {
        "team": team,
        "action_counts": action_counts,
        "incident_counts": incident_counts,
        "waiting_postmortems": waiting_postmortems,
        "stages": [{"stage": s, "label": Stage(s).label, "count": action_counts[s]} for s in OPEN_STAGES],
        "period": board["figures"]["range"],
        "health": board["figures"]["health"],
        "poles": poles,
        "signal_count": sum(1 for pole in poles for card in pole["cards"] if card["signals"]),
    }
    return render(request, "improvement/dashboard.html", context)


# --- rituals and the review board ----------------------------------------------------------

AGENDA_SECTIONS = {
    "incident": gettext_lazy("New incidents"),
    "postmortem": gettext_lazy("Postmortems waiting"),
    "action_overdue": gettext_lazy("Overdue actions"),
    "action_stale": gettext_lazy("Stale actions"),
    "action_check_due": gettext_lazy("Actions whose Check window has ended"),
    "recurrence": gettext_lazy("Recurrences: the problem came back"),
    "metric_signal": gettext_lazy("Metric signals"),
}
ACTION_ITEM_KINDS = {"action_overdue", "action_stale", "action_check_due", "recurrence"}
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
    return render(request, "improvement/rituals.html", {"team": team, "rituals": items, "sessions": sessions})


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
                services.create_ritual(team=team, attendees=attendees, **fields)
            else:
                services.update_ritual(ritual=ritual, attendees=attendees, **fields)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Ritual saved."))
            return redirect("improvement:rituals", team.slug)
    status = 400 if form.errors else 200
    return render(
        request, "improvement/ritual_form.html", {"team": team, "form": form, "ritual": ritual}, status=status
    )


@team_view(LEAD)
@once
def ritual_create(request, team):
    return _ritual_form_view(request, team)


@team_view(LEAD)
def ritual_edit(request, team, pk):
    return _ritual_form_view(request, team, _ritual(team, pk))


def _agenda_by_section(session: ReviewSession) -> list[dict]:
    """The frozen agenda split into its sections, in order: items as frozen, the number of the first, counts.

    One pass over the frozen list and one query (the discussed counts, from the ReviewDecision rows);
    nothing here is shaped for display yet, so the cost of a section does not depend on its size.
    """
    by_kind: dict[str, list] = {kind: [] for kind in AGENDA_SECTIONS}
    for raw in (session.agenda or {}).get("items", []):
        if raw.get("kind") in by_kind:
            by_kind[raw["kind"]].append(raw)
    discussed = selectors.discussed_per_section(session, AGENDA_SECTIONS)
    sections, first = [], 1
    for kind, label in AGENDA_SECTIONS.items():
        raws = by_kind[kind]
        sections.append(
            {
                "kind": kind,
                "label": label,
                "raw": raws,
                "first": first,
                "count": len(raws),
                "discussed": discussed[kind],
            }
        )
        first += len(raws)
    return sections


def _agenda_item(raw: dict, number: int, decisions: list) -> dict:
    """One frozen item shaped for _review_item.html: its number on the agenda, typed dates, its decisions."""
    data = dict(raw.get("data") or {})
    for key in _AGENDA_DATETIMES:
        if isinstance(data.get(key), str):
            data[key] = parse_datetime(data[key])
    if isinstance(data.get("due_date"), str):
        data["due_date"] = parse_date(data["due_date"])
    return {
        **raw,
        "number": number,
        "data": data,
        "is_action": raw["kind"] in ACTION_ITEM_KINDS,
        "decisions": [d for d in decisions if d.kind != ReviewDecision.Kind.DISCUSSED],
        # Deciding something on an item means the board discussed it.
        "discussed": bool(decisions),
    }


def _decisions_by_item(session: ReviewSession, item_ids) -> dict[str, list]:
    by_item: dict[str, list] = {}
    for decision in selectors.decisions_on_items(session, item_ids):
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
    return {"section": section, "page": page, "total": sum(s["count"] for s in sections)}


def _agenda_item_alone(session: ReviewSession, item_id: str) -> dict:
    """One item of the agenda, wherever it is shown (board or section page), for redrawing it in place."""
    sections = _agenda_by_section(session)
    for section in sections:
        for index, raw in enumerate(section["raw"]):
            if raw["id"] == item_id:
                decisions = _decisions_by_item(session, [item_id]).get(item_id, [])
                item = _agenda_item(raw, section["first"] + index, decisions)
                return {"item": item, "section": section, "total": sum(s["count"] for s in sections)}
    raise Http404


def _session_context(request, team, session, **extra):
    """What the board and a section page share: the session, its time zone and what an item's forms need."""
    return {
        "team": team,
        "session": session,
        "agenda": session.agenda or {},
        "agenda_tz": (session.agenda or {}).get("timezone") or session.ritual.timezone,
        "stages": [(s, Stage(s).label) for s in (*OPEN_STAGES, Stage.DONE, Stage.ABANDONED)],
        "is_open": session.status == ReviewSession.Status.OPEN,
        "members": list(review_board.team_members(team)),
        "decide_url": reverse("improvement:review_decide", args=[team.slug, session.pk]),
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
        **_agenda_view(session),
    )
    return render(request, "improvement/review.html", context)


@require_GET
@team_view()
def review_section(request, team, pk, kind):
    """One section of a session's agenda, page by page, with the same per-item controls as the board."""
    session = _session(team, pk)
    shaped = _agenda_section(session, kind, request.GET.get("page"))
    decide_url = reverse("improvement:review_decide", args=[team.slug, session.pk]) + f"?page={shaped['page'].number}"
    context = _session_context(request, team, session, decide_url=decide_url, **shaped)
    return render(request, "improvement/review_section.html", context)


def _after_decision_url(team, session, item_id: str, page: str) -> str:
    """Back where the decision was taken: the section page it came from (?page=), else the board."""
    kind = item_id.partition(":")[0]
    anchor = "#item-" + quote(item_id, safe=":")
    if page.isdigit() and kind in AGENDA_SECTIONS:
        url = reverse("improvement:review_section", args=[team.slug, session.pk, kind])
        return f"{url}?page={page}{anchor}"
    return reverse("improvement:review", args=[team.slug, session.pk]) + anchor


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
        return redirect(_after_decision_url(team, session, item_id, request.GET.get("page", "")))
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
    return render(request, "improvement/_review_decided.html", context, status=400 if form.errors else 200)


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
    return redirect(reverse("improvement:review", args=[team.slug, pk]) + "#attendance")


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
    return redirect(reverse("improvement:review", args=[team.slug, pk]) + "#notes")


@require_POST
@team_view(LEAD)
def review_close(request, team, pk):
    """Close the session: its summary is written and kept, and the next session links to it."""
    session = _session(team, pk)
    try:
        review_board.close_session(session=session, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Session closed. Its summary is below and can be exported as Markdown."))
    return redirect("improvement:review", team.slug, pk)


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


# --- dashboard figures (improvement.metrics) ---------------------------------------------------
# (pole, label, figure key in its pole, weekly series key, how to read the figure)
DASHBOARD_CARDS = [
    ("reliability", gettext_lazy("Incidents"), "incidents", "incidents", "count"),
    ("reliability", gettext_lazy("Time to acknowledge"), "time_to_acknowledge", "time_to_acknowledge_p50", "duration"),
    ("reliability", gettext_lazy("Time to restore (mitigate)"), "time_to_mitigate", "time_to_mitigate_p50", "duration"),
    ("reliability", gettext_lazy("Time to resolve"), "time_to_resolve", "time_to_resolve_p50", "duration"),
    ("reliability", gettext_lazy("Change failure rate"), "change_failure_rate", "change_failure_rate", "share"),
    ("reliability", gettext_lazy("Repeat-incident rate"), "repeat_incident_rate", "repeat_incident_rate", "share"),
    ("speed", gettext_lazy("Deployments per week"), "deployment_frequency", "deployments", "per_week"),
    ("speed", gettext_lazy("Lead time for changes"), "lead_time", "lead_time_p50", "duration"),
    (
        "speed",
        gettext_lazy("Incident to published postmortem"),
        "time_to_postmortem",
        "time_to_postmortem_p50",
        "duration",
    ),
    (
        "speed",
        gettext_lazy("Improvement cycle time (Plan → Act)"),
        "improvement_cycle_time",
        "cycle_time_p50",
        "duration",
    ),
    (
        "flexibility",
        gettext_lazy("Standard (pre-approved) changes"),
        "standard_change_share",
        "standard_change_share",
        "share",
    ),
    ("flexibility", gettext_lazy("Emergency changes"), "emergency_change_rate", "emergency_change_rate", "share"),
    ("flexibility", gettext_lazy("Lead-time spread (p90 / median)"), "lead_time_spread", "lead_time_spread", "ratio"),
    ("flexibility", gettext_lazy("Improvement work in progress"), "improvement_wip", "improvement_wip", "int"),
    (
        "flexibility",
        gettext_lazy("Improvement throughput per week"),
        "improvement_throughput",
        "improvement_throughput",
        "per_week",
    ),
]
POLES = {
    "reliability": gettext_lazy("Reliability"),
    "speed": gettext_lazy("Speed"),
    "flexibility": gettext_lazy("Flexibility"),
}


def _signal_text(signal: dict) -> str:
    if signal["rule"] == "beyond_limit":
        text = (
            _("above the upper control limit") if signal["direction"] == "above" else _("below the lower control limit")
        )
    else:
        text = (
            _("8 weeks in a row above the centre line")
            if signal["direction"] == "above"
            else _("8 weeks in a row below the centre line")
        )
    return text


def metric_cards(board: dict) -> list[dict]:
    """The dashboard's figures, one card per metric, each with its weekly series and signals."""
    from teams.templatetags.opskaizen import duration, percent

    poles = []
    for pole, pole_label in POLES.items():
        cards = []
        for card_pole, label, figure_key, series_key, reading in DASHBOARD_CARDS:
            if card_pole != pole:
                continue
            figure = board["figures"][pole].get(figure_key)
            series = board["series"].get(series_key) or {}
            if reading == "duration":
                value = duration(figure["median"])
                detail = _("median · p90 %(p90)s · %(n)s measured") % {
                    "p90": duration(figure["p90"]),
                    "n": figure["count"],
                }
            elif reading == "share":
                value = percent(figure["value"])
                detail = _("%(count)s of %(of)s") % {"count": figure["count"], "of": figure["of"]}
            elif reading == "per_week":
                value = formats.number_format(round(figure["per_week"], 1))
                detail = _("%(count)s in the period") % {"count": figure["count"]}
            elif reading == "ratio":
                value = "—" if figure["value"] is None else f"× {formats.number_format(round(figure['value'], 1))}"
                detail = _("%(n)s changes measured") % {"n": figure["count"]}
            elif reading == "count":
                value = str(figure)
                detail = ""
            else:
                value = str(figure)
                detail = ""
            signals = [_signal_text(s) for s in series.get("signals", [])]
            cards.append(
                {
                    "label": label,
                    "value": value,
                    "detail": detail,
                    "values": series.get("values", []),
                    "limits": series.get("limits"),
                    "signals": signals,
                    "last": series.get("values", [None])[-1] if series.get("values") else None,
                }
            )
        poles.append({"key": pole, "label": pole_label, "cards": cards})
    return poles
