"""The review board: a session's agenda, its decisions, attendance, notes, closing and export."""

from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors
from core.once import once
from core.text import markdown_html
from improvement.models import Stage
from rituals import agenda, review_board
from rituals import selectors as ritual_selectors
from rituals.forms import AttendanceForm, BoardDecisionForm, NotesForm
from rituals.models import ReviewSession
from rituals.views.agenda_items import (
    AGENDA_SECTIONS,
    REASON_LABELS,
    REVIEW_SECTION_CAP,
    agenda_item_alone,
    agenda_section,
    agenda_view,
    session_context,
    session_or_404,
)
from teams.decorators import team_view
from teams.models import Membership

LEAD = Membership.Role.LEAD


@require_GET
@team_view()
def review_session(request, team, pk):
    """The review board: each agenda section (capped, the rest on its own page), decisions, attendance and notes."""
    session = session_or_404(team, pk)
    context = session_context(
        request,
        team,
        session,
        attendance_form=AttendanceForm(team=team, initial={"attendees": list(session.attendees.all())}),
        notes_form=NotesForm(initial={"notes": session.notes}),
        cap=REVIEW_SECTION_CAP,
        since_freeze=_since_freeze(session),
        summary_html=_summary_html(session),
        moved=ritual_selectors.moved_since_last_session(session),
        **agenda_view(session),
    )
    return render(request, "rituals/review.html", context)


def _summary_html(session: ReviewSession) -> str:
    """The closed session's summary as HTML (escaped Markdown rendered without raw HTML); '' while open."""
    if session.status != ReviewSession.Status.CLOSED or not session.summary:
        return ""
    return mark_safe(markdown_html(session.summary, heading_offset=2))  # noqa: S308 -- markdown_html escapes raw HTML


def _since_freeze(session: ReviewSession) -> list[dict]:
    """What would be on the agenda now but was not frozen (read-only: the frozen agenda is the meeting's).

    Only while the session is open; a constant number of queries (agenda.added_since_freeze).
    """
    if session.status != ReviewSession.Status.OPEN or not session.agenda or "monthly" in session.agenda:
        return []  # a monthly review's agenda is the month's figures, not items that come in
    added = agenda.added_since_freeze(session)
    for item in added:
        item["section_label"] = AGENDA_SECTIONS.get(item.get("section"), "")
        item["reason_labels"] = [REASON_LABELS[r] for r in item.get("reasons", []) if r in REASON_LABELS]
    return added


@require_GET
@team_view()
def review_section(request, team, pk, kind):
    """One section of a session's agenda, page by page, with the same per-item controls as the board."""
    session = session_or_404(team, pk)
    shaped = agenda_section(session, kind, request.GET.get("page"))
    decide_url = reverse("rituals:review_decide", args=[team.slug, session.pk]) + f"?page={shaped['page'].number}"
    context = session_context(request, team, session, decide_url=decide_url, **shaped)
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
    session = session_or_404(team, pk)
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
    session = session_or_404(team, pk)
    context = session_context(
        request,
        team,
        session,
        decide_url=request.get_full_path(),
        item_errors=form.errors if form.errors else None,
        open_decision=form.data.get("decision"),
        **agenda_item_alone(session, item_id),
    )
    return render(request, "rituals/_review_decided.html", context, status=400 if form.errors else 200)


@require_POST
@team_view(LEAD)
def review_attendance(request, team, pk):
    session = session_or_404(team, pk)
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
    session = session_or_404(team, pk)
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
    session = session_or_404(team, pk)
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
    session = session_or_404(team, pk)
    text = session.summary if session.status == ReviewSession.Status.CLOSED else review_board.session_markdown(session)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"{team.slug}-review-{timezone.localtime(session.occurrence):%Y-%m-%d}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
