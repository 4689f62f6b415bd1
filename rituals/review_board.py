"""Writes of the review board: rituals, and what a lead records while running a session.

The frozen agenda is never rewritten. Decisions are ReviewDecision rows; the
ones that change an action go through improvement.services (move_action with
via="review_board", update_action, create_action), so the PDCA rules hold here
too. Closing a session writes its summary (Markdown) from those rows.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.text import md_escape, md_escape_block
from improvement import services
from improvement.models import Action, Stage
from rituals import agenda, notifications
from rituals.models import ReviewDecision, ReviewSession
from teams.models import Membership, Team


def _check_members(team: Team, users, field: str) -> None:
    users = list(users)
    ids = {user.pk for user in users}
    known = set(Membership.objects.filter(team=team, user_id__in=ids).values_list("user_id", flat=True))
    if ids - known:
        raise ValidationError({field: _("Only members of the team can be chosen.")})


def _open_session(session: ReviewSession) -> ReviewSession:
    session = ReviewSession.objects.select_for_update().get(pk=session.pk)
    if session.status != ReviewSession.Status.OPEN:
        raise ValidationError({"session": _("This session is closed: its record can no longer change.")})
    return session


def _item(session: ReviewSession, item_id: str) -> dict:
    if not item_id:
        return {}
    for item in agenda.readable(session.agenda).get("items", []):
        if item.get("id") == item_id:
            return item
    raise ValidationError({"item_id": _("This item is not on the session's agenda.")})


def _action_of(session: ReviewSession, action_id, item: dict | None = None) -> Action:
    """The team's action a decision is about; on an action's item, only that action."""
    if item and item.get("kind") in agenda.ACTION_KINDS and str(item.get("object_id")) != str(action_id):
        raise ValidationError({"action_id": _("This decision is not about this agenda item's action.")})
    action = Action.objects.filter(team_id=session.team_id, pk=action_id).first()
    if action is None:
        raise ValidationError({"action": _("This action does not exist in this team.")})
    return action


def _record(session, item_id, kind, by, text="", action=None, at=None) -> ReviewDecision:
    return ReviewDecision.objects.create(
        team_id=session.team_id,
        session=session,
        item_id=item_id,
        kind=kind,
        action=action,
        text=text,
        by=by,
        at=at or timezone.now(),
    )


@transaction.atomic
def set_attendance(*, session: ReviewSession, attendees) -> ReviewSession:
    """Who attended the session (members of the team only)."""
    session = _open_session(session)
    _check_members(session.team, attendees, "attendees")
    session.attendees.set(attendees)
    return session


@transaction.atomic
def save_notes(*, session: ReviewSession, notes: str) -> ReviewSession:
    """The session's free notes."""
    session = _open_session(session)
    session.notes = notes
    session.save(update_fields=["notes"])
    return session


@transaction.atomic
def mark_discussed(*, session: ReviewSession, item_id: str, by=None, note: str = "") -> ReviewDecision:
    """Mark an agenda item as discussed (once: marking it again changes nothing)."""
    session = _open_session(session)
    _item(session, item_id)
    existing = session.decisions.filter(item_id=item_id, kind=ReviewDecision.Kind.DISCUSSED).first()
    return existing or _record(session, item_id, ReviewDecision.Kind.DISCUSSED, by, note)


@transaction.atomic
def move_from_board(*, session: ReviewSession, item_id: str, action_id, to_stage: str, by=None, **move) -> Action:
    """A stage move decided by the board: move_action's rules, recorded as coming from the review board."""
    session = _open_session(session)
    action = _action_of(session, action_id, _item(session, item_id))
    previous = action.stage
    action = services.move_action(action=action, to_stage=to_stage, by=by, via="review_board", **move)
    text = _("%(title)s: %(old)s → %(new)s") % {
        "title": action.title,
        "old": Stage(previous).label,
        "new": Stage(to_stage).label,
    }
    note = move.get("note") or move.get("reason") or ""
    _record(session, item_id, ReviewDecision.Kind.MOVED, by, f"{text}. {note}".strip(), action)
    return action


@transaction.atomic
def assign_from_board(*, session: ReviewSession, item_id: str, action_id, owner, by=None) -> Action:
    """Give an action a new owner."""
    session = _open_session(session)
    action = services.update_action(action=_action_of(session, action_id, _item(session, item_id)), owner=owner)
    text = _("%(title)s: assigned to %(owner)s") % {"title": action.title, "owner": owner.get_username()}
    _record(session, item_id, ReviewDecision.Kind.ASSIGNED, by, text, action)
    return action


@transaction.atomic
def redate_from_board(*, session: ReviewSession, item_id: str, action_id, due_date, by=None) -> Action:
    """Give an action a new due date."""
    session = _open_session(session)
    item = _item(session, item_id)
    action = services.update_action(action=_action_of(session, action_id, item), due_date=due_date)
    text = _("%(title)s: due %(date)s") % {"title": action.title, "date": due_date.isoformat()}
    _record(session, item_id, ReviewDecision.Kind.REDATED, by, text, action)
    return action


@transaction.atomic
def create_action_from_board(*, session: ReviewSession, item_id: str = "", by=None, **fields) -> Action:
    """Open a new action (origin: review board), linked to the agenda item's incident or postmortem."""
    session = _open_session(session)
    item = _item(session, item_id)
    links = {}
    if item.get("kind") == "incident" and item.get("object_id"):
        links["incidents"] = list(session.team.incidents.filter(pk=item["object_id"]))
    elif item.get("kind") == "postmortem" and item.get("object_id"):
        links["postmortems"] = list(session.team.postmortems.filter(pk=item["object_id"]))
    action = services.create_action(team=session.team, by=by, origin=Action.Origin.REVIEW_BOARD, links=links, **fields)
    text = _("New action: %(title)s") % {"title": action.title}
    _record(session, item_id, ReviewDecision.Kind.ACTION_CREATED, by, text, action)
    return action


def session_markdown(session: ReviewSession) -> str:
    """The session's record as Markdown: attendance, decisions per agenda item, notes.

    Everything a member typed (ritual and people's names, titles, decision texts, notes) is
    escaped, and one-line fields are kept on one line: no user text can add a heading, a list
    item, a link or code to the record.
    """
    tz = timezone.get_current_timezone()
    ritual_tz = (session.agenda or {}).get("timezone")
    if ritual_tz:
        import zoneinfo

        tz = zoneinfo.ZoneInfo(ritual_tz)
    when = timezone.localtime(session.occurrence, tz).strftime("%Y-%m-%d %H:%M")
    lines = [f"# {md_escape(session.ritual.name)} — {when} ({tz.key})", ""]
    people = ", ".join(sorted(md_escape(u.get_full_name() or u.get_username()) for u in session.attendees.all()))
    attendees_label, agenda_label = _("Attendees:"), _("Agenda")
    decisions_label, left_label, notes_label = _("Decisions"), _("Not discussed"), _("Notes")
    lines += [f"**{attendees_label}** {people or '—'}", ""]
    decisions = list(session.decisions.select_related("by").order_by("at", "id"))
    items = agenda.readable(session.agenda).get("items", [])
    discussed = {d.item_id for d in decisions if d.item_id}  # a decision on an item means it was discussed
    lines += [f"## {agenda_label}", ""]
    lines.append(_("%(done)s of %(total)s items discussed.") % {"done": len(discussed), "total": len(items)})
    carried_in = [item for item in items if item.get("carried_over_from")]
    if carried_in:
        carried_done = sum(1 for item in carried_in if item["id"] in discussed)
        lines.append(
            _("%(n)s carried over from %(date)s, %(done)s of them discussed.")
            % {"n": len(carried_in), "date": carried_in[0]["carried_over_from"], "done": carried_done}
        )
    left_count = sum(1 for item in items if item["id"] not in discussed)
    if left_count:
        lines.append(
            ngettext(
                "%(n)s item not discussed: carried over to the next session.",
                "%(n)s items not discussed: carried over to the next session.",
                left_count,
            )
            % {"n": left_count}
        )
    lines.append("")
    titles = {item["id"]: item.get("title", "") for item in items}
    lines += [f"## {decisions_label}", ""]
    taken = [d for d in decisions if d.kind != ReviewDecision.Kind.DISCUSSED]
    for decision in taken:
        about = titles.get(decision.item_id)
        prefix = f"{md_escape(about)} — " if about and about not in decision.text else ""
        by = decision.by.get_full_name() or decision.by.get_username() if decision.by else ""
        decided = _("decided by %(name)s") % {"name": md_escape(by)} if by else ""
        kind = decision.get_kind_display()
        lines.append(f"- {prefix}{md_escape(decision.text)} ({kind}{'; ' + decided if decided else ''})")
    if not taken:
        lines.append(_("No decision recorded."))
    lines += ["", f"## {left_label}", ""]
    left = [item for item in items if item["id"] not in discussed]
    lines += [f"- {md_escape(item.get('title') or item['id'])}" for item in left] or [_("Every item was discussed.")]
    if session.notes.strip():
        lines += ["", f"## {notes_label}", "", md_escape_block(session.notes)]
    return "\n".join(lines) + "\n"


def undiscussed_items(session: ReviewSession) -> list[dict]:
    """The agenda items the board decided nothing on, in the agenda's order (one query)."""
    decided = set(session.decisions.exclude(item_id="").values_list("item_id", flat=True))
    return [item for item in agenda.readable(session.agenda).get("items", []) if item["id"] not in decided]


@transaction.atomic
def close_session(*, session: ReviewSession, by=None, at=None, carry_over: bool = False) -> ReviewSession:
    """Close the session, freeze its summary (in the team's language) and queue it for the attendees.

    Items left undiscussed open the next session's agenda (carried over); closing with some
    left needs `carry_over=True`, so that nobody leaves them behind without knowing.
    """
    session = _open_session(session)
    left = undiscussed_items(session)
    if left and not carry_over:
        message = ngettext(
            "%(n)s item was not discussed; confirm to carry it over to the next session.",
            "%(n)s items were not discussed; confirm to carry them over to the next session.",
            len(left),
        ) % {"n": len(left)}
        raise ValidationError({"carry_over": ValidationError(message, code="confirm")})
    session.status = ReviewSession.Status.CLOSED
    session.closed_at = at or timezone.now()
    with translation.override(session.team.language):
        session.summary = session_markdown(session)
    session.save(update_fields=["status", "closed_at", "summary"])
    ids = notifications.queue_session_summary(session=session)
    transaction.on_commit(lambda: notifications.publish(ids))
    return session


def team_members(team: Team):
    """Who may own an action: the team's members and leads."""
    roles = [Membership.Role.MEMBER, Membership.Role.LEAD]
    return get_user_model().objects.filter(memberships__team=team, memberships__role__in=roles).order_by("username")
