"""Incident and postmortem pages. Forms check the input's shape; every write goes through incidents.services."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors, or_404
from core.once import once
from improvement import recurrence, selectors
from improvement import services as improvement_services
from improvement.forms import QuickActionForm
from improvement.models import Action, Recurrence
from incidents import services
from incidents.filters import IncidentFilterSet
from incidents.forms import (
    ContributingFactorForm,
    IncidentForm,
    IncidentMoveForm,
    PostmortemForm,
    TimelineEventForm,
)
from incidents.models import Incident, Postmortem
from teams.decorators import team_view
from teams.models import Membership

MEMBER = Membership.Role.MEMBER


_incident = or_404(selectors.incident_for_page)


_postmortem = or_404(selectors.postmortem_for_page)


@require_GET
@team_view()
def incident_list(request, team):
    """The team's incidents, filtered and paginated (a constant number of queries per page)."""
    filterset = IncidentFilterSet(request.GET or None, queryset=selectors.incidents_for_team(team), request=request)
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.incidents_for_team(team)
    page = Paginator(queryset, settings.UI_PAGE_SIZE).get_page(request.GET.get("page"))
    template = "incidents/_list_results.html" if request.htmx and not request.htmx.boosted else "incidents/list.html"
    fields = [filterset.form[name] for name in IncidentFilterSet.PAGE_FIELDS]
    return render(request, template, {"team": team, "filterset": filterset, "fields": fields, "page": page})


@team_view(MEMBER)
@once
def incident_create(request, team):
    form = IncidentForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.create_incident(team=team, by=request.user, **form.service_fields())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Incident logged."))
            return redirect("incidents:detail", team.slug, incident.pk)
    status = 400 if form.errors else 200
    return render(request, "incidents/form.html", {"team": team, "form": form}, status=status)


@team_view(MEMBER)
def incident_edit(request, team, pk):
    incident = _incident(team, pk)
    form = IncidentForm(request.POST or None, team=team, initial=IncidentForm.initial_from(incident))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_incident(incident=incident, by=request.user, **form.service_fields())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Incident updated."))
            return redirect("incidents:detail", team.slug, incident.pk)
    status = 400 if form.errors else 200
    return render(request, "incidents/form.html", {"team": team, "form": form, "incident": incident}, status=status)


@require_GET
@team_view()
def incident_detail(request, team, pk):
    return render(request, "incidents/detail.html", _incident_context(team, _incident(team, pk)))


def _incident_context(team, incident, **extra) -> dict:
    labels = {services.Move.ACKNOWLEDGE: _("Acknowledge"), **dict(Incident.Status.choices)}
    return {
        "team": team,
        "incident": incident,
        "postmortem": getattr(incident, "postmortem", None),
        "event_form": TimelineEventForm(),
        "move_form": IncidentMoveForm(),
        "moves": [(move, labels[move]) for move in services.incident_moves(incident)],
        **extra,
    }


@require_POST
@team_view(MEMBER)
def incident_status(request, team, pk):
    """Acknowledge, mitigate, resolve or close, now or backdated; a refused time is a field error here."""
    incident = _incident(team, pk)
    form = IncidentMoveForm(request.POST)
    if form.is_valid():
        move = request.POST.get("move") or request.POST.get("status", "")
        try:
            services.move_incident(incident=incident, move=move, at=form.cleaned_data["at"], by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if move == services.Move.ACKNOWLEDGE:
                messages.success(request, _("Incident acknowledged."))
            else:
                label = dict(Incident.Status.choices)[move]
                messages.success(request, _("Incident marked %(status)s.") % {"status": label})
            return redirect("incidents:detail", team.slug, pk)
    context = _incident_context(team, _incident(team, pk), move_form=form)
    return render(request, "incidents/detail.html", context, status=400)


@require_POST
@team_view(MEMBER)
@once
def timeline_add(request, team, pk):
    """Add a timeline entry; with htmx the timeline is swapped in place."""
    incident = _incident(team, pk)
    form = TimelineEventForm(request.POST)
    if form.is_valid():
        try:
            services.add_timeline_event(
                incident=incident,
                text=form.cleaned_data["text"],
                kind=form.cleaned_data["kind"],
                occurred_at=form.cleaned_data["occurred_at"],
                by=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error)
    if not form.errors and not request.htmx:
        return redirect(reverse("incidents:detail", args=[team.slug, pk]) + "#timeline")
    context = _incident_context(team, _incident(team, pk), event_form=form if form.errors else TimelineEventForm())
    template = "incidents/_timeline.html" if request.htmx else "incidents/detail.html"
    return render(request, template, context, status=400 if form.errors else 200)


@require_POST
@team_view(MEMBER)
def postmortem_start(request, team, pk):
    """Open the incident's postmortem (the same one if it exists: a double click opens it once)."""
    incident = _incident(team, pk)
    postmortem = services.start_postmortem(incident=incident, by=request.user)
    return redirect("incidents:postmortem", team.slug, postmortem.pk)


def _postmortem_context(team, postmortem, **forms):
    return {
        "team": team,
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "editable": postmortem.status != Postmortem.Status.PUBLISHED,
        "form": forms.get("form")
        or PostmortemForm(team=team, initial={n: getattr(postmortem, n) for n in PostmortemForm.base_fields}),
        "factor_form": forms.get("factor_form") or ContributingFactorForm(),
        "action_form": forms.get("action_form") or QuickActionForm(team=team),
        "flow_errors": forms.get("flow_errors") or [],
    }


@team_view()
def postmortem_detail(request, team, pk):
    """The blameless postmortem: read by everyone, edited by members until it is published."""
    postmortem = _postmortem(team, pk)
    if request.method != "POST":
        return render(request, "incidents/postmortem.html", _postmortem_context(team, postmortem))
    if request.team_role == Membership.Role.VIEWER:
        raise Http404
    form = PostmortemForm(request.POST, team=team)
    if form.is_valid():
        try:
            services.update_postmortem(postmortem=postmortem, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Postmortem saved."))
            return redirect("incidents:postmortem", team.slug, postmortem.pk)
    return render(request, "incidents/postmortem.html", _postmortem_context(team, postmortem, form=form), status=400)


@require_POST
@team_view(MEMBER)
@once
def factor_add(request, team, pk):
    """Add a contributing factor; with htmx the list is swapped in place."""
    postmortem = _postmortem(team, pk)
    form = ContributingFactorForm(request.POST)
    if form.is_valid():
        try:
            services.add_contributing_factor(postmortem=postmortem, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
    if not form.errors and not request.htmx:
        return redirect(reverse("incidents:postmortem", args=[team.slug, pk]) + "#factors")
    postmortem = _postmortem(team, pk)
    context = _postmortem_context(team, postmortem, factor_form=form if form.errors else None)
    template = "incidents/_factors.html" if request.htmx else "incidents/postmortem.html"
    return render(request, template, context, status=400 if form.errors else 200)


@require_POST
@team_view(MEMBER)
def postmortem_move(request, team, pk):
    """Submit for review, send back to draft, or publish; a refusal lists what is missing."""
    postmortem = _postmortem(team, pk)
    to_status = request.POST.get("to_status", "")
    try:
        services.move_postmortem(postmortem=postmortem, to_status=to_status, by=request.user)
    except ValidationError as error:
        labels = {
            "summary": _("Summary"),
            "impact": _("Impact"),
            "factors": _("Contributing factors"),
            "reviewer": _("Reviewer"),
        }
        flow_errors = [
            _("%(label)s: %(message)s") % {"label": labels[field], "message": message} if field in labels else message
            for field, messages_ in error.message_dict.items()
            for message in messages_
        ]
        context = _postmortem_context(team, postmortem, flow_errors=flow_errors)
        return render(request, "incidents/postmortem.html", context, status=400)
    labels = dict(Postmortem.Status.choices)
    messages.success(request, _("Postmortem is now %(status)s.") % {"status": labels[to_status]})
    return redirect("incidents:postmortem", team.slug, postmortem.pk)


@require_POST
@team_view(MEMBER)
@once
def postmortem_action_create(request, team, pk):
    """Create an improvement action from the postmortem in one step, linked to it and its incident."""
    postmortem = _postmortem(team, pk)
    form = QuickActionForm(request.POST, team=team)
    if form.is_valid():
        try:
            action = improvement_services.create_action(
                team=team,
                by=request.user,
                origin=Action.Origin.POSTMORTEM,
                links={"postmortems": [postmortem], "incidents": [postmortem.incident]},
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, _("Action “%(title)s” created in Plan.") % {"title": action.title})
                return redirect(reverse("incidents:postmortem", args=[team.slug, pk]) + "#actions")
    postmortem = _postmortem(team, pk)
    context = _postmortem_context(team, postmortem, action_form=form if form.errors else None)
    template = "incidents/_pm_actions.html" if request.htmx else "incidents/postmortem.html"
    return render(request, template, context, status=400 if form.errors else 200)


@require_POST
@team_view(MEMBER)
def recurrence_dismiss(request, team, pk):
    """Mark one recurrence link "not a recurrence", with a reason (it stops counting; its cycle is withdrawn)."""
    link = Recurrence.objects.filter(action__team=team, pk=pk).select_related("incident").first()
    if link is None:
        raise Http404
    try:
        recurrence.dismiss(link=link, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        context = _incident_context(team, _incident(team, link.incident_id), dismiss_errors={link.pk: error.messages})
        return render(request, "incidents/detail.html", context, status=400)
    messages.success(request, _("Marked as not a recurrence."))
    return redirect("incidents:detail", team.slug, link.incident_id)
