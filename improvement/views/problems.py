"""Problem pages: the list, a problem's page, creating one from incidents, attaching, detaching, merging.

They live in improvement because they show each problem's actions and their verdicts. Every write
goes through incidents.services (links) or improvement.problems (merges).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors, or_404, submit
from core.once import once
from improvement import problems, selectors
from improvement.models import ProblemMerge
from incidents import services
from incidents.models import Incident
from incidents.problem_forms import DetachIncidentsForm, IncidentsToProblemForm, MergeProblemForm, ProblemForm
from teams.decorators import team_view
from teams.models import Membership

MEMBER, LEAD = Membership.Role.MEMBER, Membership.Role.LEAD


_problem = or_404(selectors.problem_for_page)


@require_GET
@team_view()
def problem_list(request, team):
    """The team's problems: status, incident count, last incident, linked actions and their verdicts."""
    return render(request, "problems/list.html", {"team": team, "problems": selectors.problems_for_team(team)})


def _detail_context(team, problem, **forms) -> dict:
    return {
        "team": team,
        "problem": problem,
        "actions": selectors.actions_of_problem(problem),
        "recurrences": selectors.recurrences_of_problem(problem),
        "merges": selectors.merges_of_problem(problem),
        "merge_form": forms.get("merge_form") or MergeProblemForm(problem=problem),
        "detach_form": forms.get("detach_form"),
    }


@require_GET
@team_view()
def problem_detail(request, team, pk):
    """A problem: its incidents on a timeline, its workaround, actions, recurrences and merges."""
    return render(request, "problems/detail.html", _detail_context(team, _problem(team, pk)))


def _incidents_from(team, raw_ids) -> list[Incident]:
    ids = [int(i) for i in raw_ids if str(i).isdigit()]
    return list(Incident.objects.filter(team=team, pk__in=ids).order_by("-started_at", "-id"))


@team_view(MEMBER)
@once
def problem_create(request, team):
    """A new problem, from the incidents it was opened from (`?incident=<id>`, several allowed)."""
    raw = request.POST.getlist("incident") if request.method == "POST" else request.GET.getlist("incident")
    incidents = _incidents_from(team, raw)
    if len(incidents) != len([i for i in raw if i]):
        raise Http404  # another team's incident, or none such: no hint either way
    initial = {}
    if incidents:
        first = incidents[0]
        initial = {"title": first.title, "service": first.service_id}

    @transaction.atomic
    def save(data):
        problem = services.create_problem(team=team, **data)
        if incidents:
            services.attach_incidents(team=team, problem=problem, incident_ids=[i.pk for i in incidents])
        return problem

    return submit(
        request,
        ProblemForm(request.POST or None, team=team, initial=initial),
        save,
        done=lambda problem: reverse("problems:detail", args=[team.slug, problem.pk]),
        message=lambda problem: _("Problem “%(title)s” opened.") % {"title": problem.title},
        template="problems/form.html",
        context={"team": team, "incidents": incidents},
    )


@team_view(MEMBER)
def problem_edit(request, team, pk):
    """Edit a problem: its status, description and known workaround."""
    problem = _problem(team, pk)
    return submit(
        request,
        ProblemForm(request.POST or None, team=team, initial=ProblemForm.initial_from(problem)),
        lambda data: services.update_problem(problem=problem, **data),
        done=reverse("problems:detail", args=[team.slug, problem.pk]),
        message=_("Problem updated."),
        template="problems/form.html",
        context={"team": team, "problem": problem},
    )


def _shared_service(incidents):
    """The service all the incidents are on, if they share one: a new problem starts on it."""
    service_ids = {incident.service_id for incident in incidents}
    return incidents[0].service if len(service_ids) == 1 else None


@require_POST
@team_view(MEMBER)
@once
def incidents_to_problem(request, team):
    """The incident list's bulk action: the ticked incidents to a problem (an existing or a new one), or detached."""
    form = IncidentsToProblemForm(request.POST, team=team)
    if form.is_valid():
        data = form.cleaned_data
        ids = [incident.pk for incident in data["incidents"]]
        try:
            with transaction.atomic():
                if data["operation"] == form.DETACH:
                    services.detach_incidents(team=team, incident_ids=ids)
                    problem = None
                else:
                    problem = data["problem"] or services.create_problem(
                        team=team, title=data["new_title"], service=_shared_service(data["incidents"])
                    )
                    services.attach_incidents(team=team, problem=problem, incident_ids=ids)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if problem is None:
                messages.success(
                    request,
                    ngettext("%(n)s incident detached.", "%(n)s incidents detached.", len(ids)) % {"n": len(ids)},
                )
                return redirect("incidents:list", team.slug)
            messages.success(
                request,
                ngettext(
                    "%(n)s incident attached to “%(title)s”.", "%(n)s incidents attached to “%(title)s”.", len(ids)
                )
                % {"n": len(ids), "title": problem.title},
            )
            return redirect("problems:detail", team.slug, problem.pk)
    context = {"team": team, "form": form, "incidents": _incidents_from(team, request.POST.getlist("incidents"))}
    return render(request, "problems/bulk.html", context, status=400)


@require_POST
@team_view(MEMBER)
def problem_detach(request, team, pk):
    """Detach some of a problem's incidents from its page."""
    problem = _problem(team, pk)
    form = DetachIncidentsForm(request.POST, problem=problem)
    if form.is_valid():
        ids = [incident.pk for incident in form.cleaned_data["incidents"]]
        services.detach_incidents(team=team, incident_ids=ids, problem=problem)
        messages.success(
            request, ngettext("%(n)s incident detached.", "%(n)s incidents detached.", len(ids)) % {"n": len(ids)}
        )
        return redirect("problems:detail", team.slug, problem.pk)
    return render(request, "problems/detail.html", _detail_context(team, problem, detach_form=form), status=400)


@require_POST
@team_view(MEMBER)
@once
def problem_merge(request, team, pk):
    """Merge this problem into another one of the team: its incidents, actions and history move."""
    problem = _problem(team, pk)
    title = problem.title

    def save(data):
        problems.merge_problems(team=team, source=problem, target=data["target"], by=request.user)
        return data["target"]

    return submit(
        request,
        MergeProblemForm(request.POST, problem=problem),
        save,
        done=lambda target: reverse("problems:detail", args=[team.slug, target.pk]),
        message=lambda target: (
            _("“%(source)s” merged into “%(target)s”. A lead can undo it from either page.")
            % {"source": title, "target": target.title}
        ),
        template="problems/detail.html",
        context=lambda: _detail_context(team, problem),
        form_key="merge_form",
    )


@require_POST
@team_view(LEAD)
def merge_undo(request, team, pk):
    """A lead undoes a merge: what moved goes back to the merged problem, which reopens as it was."""
    merge = ProblemMerge.objects.filter(team=team, pk=pk).first()
    if merge is None:
        raise Http404
    try:
        problems.undo_merge(merge=merge, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("problems:detail", team.slug, merge.target_id)
    messages.success(request, _("Merge undone."))
    return redirect("problems:detail", team.slug, merge.source_id)
