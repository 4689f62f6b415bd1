"""PDCA board, action pages, team dashboard, rituals and review board.

Every stage move goes through improvement.services.move_action; a refusal is
shown in place, next to the card, with the service's own words.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from core.forms import add_service_errors, or_404, submit
from core.once import once
from improvement import checks, selectors, services, windows
from improvement.filters import ActionFilterSet
from improvement.forms import (
    ActionForm,
    CheckForm,
    ExtendCheckForm,
    MoveForm,
)
from improvement.models import OPEN_STAGES, Action, Check, Stage
from incidents.models import Incident
from teams.decorators import team_view
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
        "OpsKaizen measures the Check when the window and its grace period end; the measured verdict is "
        "confirmed. Leaving earlier, or with another verdict, is a lead's override and needs a reason."
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
        return ["verdict", "note"]
    if (current, to) == (Stage.ACT, Stage.DONE):
        return ["decision", "note"]
    return ["note"]


_action = or_404(selectors.action_for_page)


def _check_of(action: Action) -> Check | None:
    return getattr(action, "check_result", None)


# Cards per column on the whole board; a column's own page (?stage=…) shows all of them, paged.
BOARD_COLUMN_CARDS = 20


def _board_context(request, team):
    filterset = ActionFilterSet(request.GET or None, queryset=selectors.open_actions_for_board(team), request=request)
    valid = filterset.is_bound and filterset.is_valid()
    actions = filterset.qs if valid else selectors.open_actions_for_board(team)
    chosen = (filterset.form.cleaned_data.get("stage") or []) if valid else []
    stage = chosen[0] if len(chosen) == 1 else ""  # one column's own page
    page = None
    if stage in OPEN_STAGES:
        page = Paginator(actions, settings.UI_PAGE_SIZE).get_page(request.GET.get("page"))
        stages, cards, counts = [stage], page.object_list, {stage: page.paginator.count}
    else:
        stages = OPEN_STAGES
        cards = list(selectors.board_columns(actions, per_column=BOARD_COLUMN_CARDS))
        counts = {action.stage: action.column_count for action in cards}
    today = timezone.localdate()
    columns = {stage: [] for stage in stages}
    for action in cards:
        # One reverse per card for its move links (the card shows up to three), not one per link.
        action.move_url = reverse("improvement:action_move", args=[team.slug, action.pk])
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
        "fields": [filterset.form[name] for name in ActionFilterSet.BOARD_FIELDS],
        "page": page,
        "columns": [
            {
                "stage": stage,
                "label": Stage(stage).label,
                "hint": hints[stage],
                "actions": columns[stage],
                "count": counts.get(stage, 0),
                "more": counts.get(stage, 0) - len(columns[stage]) if page is None else 0,
            }
            for stage in stages
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
    links = {"incidents": [incident]} if incident else {}
    origin = Action.Origin.INCIDENT if incident else Action.Origin.SUGGESTION
    return submit(
        request,
        form,
        lambda data: services.create_action(
            team=team, by=request.user, origin=origin, links=links, **form.service_fields()
        ),
        done=lambda action: reverse("improvement:action_detail", args=[team.slug, action.pk]),
        message=_("Action created in Plan."),
        template="improvement/action_form.html",
        context={"team": team, "incident": incident},
    )


@team_view(MEMBER)
def action_edit(request, team, pk):
    action = _action(team, pk)
    form = ActionForm(request.POST or None, team=team, action=action, initial=ActionForm.initial_from(action))
    return submit(
        request,
        form,
        lambda data: services.update_action(action=action, **form.service_fields()),
        done=reverse("improvement:action_detail", args=[team.slug, action.pk]),
        message=_("Action updated."),
        template="improvement/action_form.html",
        context={"team": team, "action": action},
    )


@require_GET
@team_view()
def action_detail(request, team, pk):
    """An action: its plan and target, stage history, Check panel and previous / next cycles."""
    action = _action(team, pk)
    check = _check_of(action)
    check_form = None
    if action.stage == Stage.CHECK and not windows.measurable(action):
        initial = {"baseline_value": check.baseline_value, "observed_value": check.observed_value} if check else {}
        check_form = CheckForm(initial=initial | ({"verdict": check.verdict, "note": check.note} if check else {}))
    return render(request, "improvement/action_detail.html", _detail_context(team, action, check_form=check_form))


def _evidence_so_far(action: Action) -> dict | None:
    """While the action is in Check: the counts or values in both windows so far, and when it is measured."""
    if action.stage != Stage.CHECK or not windows.measurable(action):
        return None
    when = windows.schedule(action)
    if when is None:
        return None
    return {**when, **checks.measure(action)}


def _sizing_helps(action: Action, check: Check | None) -> bool:
    """In Plan and Do (is the window long enough?), and for an inconclusive Check (how long to extend)."""
    if not action.target_kind:
        return False
    return action.stage in (Stage.PLAN, Stage.DO) or (
        action.stage == Stage.CHECK and check is not None and check.computed_verdict == "inconclusive"
    )


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
        "evidence": _evidence_so_far(action),
        "sizing": checks.sizing(action) if _sizing_helps(action, check) else None,
        "extend_form": ExtendCheckForm(),
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
    """Record self-reported values (a target OpsKaizen cannot measure), with their source."""
    action = _action(team, pk)
    return submit(
        request,
        CheckForm(request.POST),
        lambda data: services.record_check(action=action, by=request.user, **data),
        done=reverse("improvement:action_detail", args=[team.slug, action.pk]),
        message=_("Measurement recorded."),
        template="improvement/action_detail.html",
        context=lambda: _detail_context(team, action),
        form_key="check_form",
    )


@require_POST
@team_view(MEMBER)
def action_measure(request, team, pk):
    """Measure the Check again now (the beat task measures once per window; late data may have arrived)."""
    action = _action(team, pk)
    try:
        checks.compute_check(action, force=True)
    except ValidationError as error:
        context = _detail_context(team, action, measure_errors=error.messages)
        return render(request, "improvement/action_detail.html", context, status=400)
    messages.success(request, _("Measured again."))
    return redirect("improvement:action_detail", team.slug, action.pk)


@require_POST
@team_view(MEMBER)
def action_extend_check(request, team, pk):
    """Observe an inconclusive Check longer (the same service as POST /api/v1/actions/{id}/extend-check/)."""
    action = _action(team, pk)
    return submit(
        request,
        ExtendCheckForm(request.POST),
        lambda data: services.extend_check_window(action=action, by=request.user, **data),
        done=reverse("improvement:action_detail", args=[team.slug, action.pk]),
        message=_("Observation window extended."),
        template="improvement/action_detail.html",
        context=lambda: _detail_context(team, action),
        form_key="extend_form",
    )
