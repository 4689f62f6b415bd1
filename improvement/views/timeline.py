"""An incident's timeline: add an entry; its author or a lead edits or deletes it (audited).

A refused entry is a field error: in place with htmx, else the incident page again, status buttons and all.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.forms import add_service_errors, submit
from core.once import once
from improvement.views.incidents import MEMBER, _incident, _incident_context
from incidents import timeline
from incidents.forms import TimelineEventEditForm, TimelineEventForm
from incidents.models import TimelineEvent
from teams.decorators import team_view


def _event(team, incident_pk, pk) -> TimelineEvent:
    event = TimelineEvent.objects.filter(team=team, incident_id=incident_pk, pk=pk).select_related("incident").first()
    if event is None:
        raise Http404
    return event


def _timeline_url(team, incident_pk) -> str:
    return reverse("incidents:detail", args=[team.slug, incident_pk]) + "#timeline"


def _answer(request, team, pk, form=None, *, status=200):
    """With htmx the timeline alone (swapped in place); else the incident page with the form's errors."""
    context = _incident_context(team, _incident(team, pk), event_form=form or TimelineEventForm())
    template = "incidents/_timeline.html" if request.htmx else "incidents/detail.html"
    return render(request, template, context, status=status)


@require_POST
@team_view(MEMBER)
@once
def timeline_add(request, team, pk):
    """Add a timeline entry; with htmx the timeline is swapped in place."""
    incident = _incident(team, pk)
    form = TimelineEventForm(request.POST)
    if form.is_valid():
        try:
            timeline.add_timeline_event(incident=incident, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
    if not form.errors and not request.htmx:
        return redirect(_timeline_url(team, pk))
    return _answer(request, team, pk, form if form.errors else None, status=400 if form.errors else 200)


@team_view(MEMBER)
def timeline_edit(request, team, pk, event_pk):
    """Correct an entry's kind, time or text: its author or a lead; the time stays within the incident's life."""
    event = _event(team, pk, event_pk)
    if not timeline.may_change_event(event, by=request.user, role=request.team_role):
        raise PermissionDenied
    initial = {"kind": event.kind, "occurred_at": event.occurred_at, "text": event.display_text}
    form = TimelineEventEditForm(request.POST or None, initial=initial, system=bool(event.data))
    return submit(
        request,
        form,
        lambda data: timeline.update_timeline_event(
            event=event, by=request.user, role=request.team_role, **form.changes()
        ),
        done=_timeline_url(team, pk),
        message=_("Timeline entry updated."),
        template="incidents/timeline_edit.html",
        context={"team": team, "incident": event.incident, "event": event},
    )


@require_POST
@team_view(MEMBER)
def timeline_delete(request, team, pk, event_pk):
    """Delete an entry: its author or a lead (the audit log keeps what it said)."""
    event = _event(team, pk, event_pk)
    timeline.delete_timeline_event(event=event, by=request.user, role=request.team_role)
    if not request.htmx:
        messages.success(request, _("Timeline entry deleted."))
        return redirect(_timeline_url(team, pk))
    return _answer(request, team, pk)
