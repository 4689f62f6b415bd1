"""A postmortem's contributing factors: add, correct, remove (members, until it is published; audited).

With htmx the factor list is swapped in place; without, the postmortem page comes back.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.forms import add_service_errors, submit
from core.once import once
from improvement.views.incidents import MEMBER, _postmortem, _postmortem_context
from incidents import factors
from incidents.forms import ContributingFactorForm
from incidents.models import ContributingFactor
from teams.decorators import team_view


def _factor(team, postmortem_pk, pk) -> ContributingFactor:
    factor = (
        ContributingFactor.objects.filter(team=team, postmortem_id=postmortem_pk, pk=pk)
        .select_related("postmortem__incident")
        .first()
    )
    if factor is None:
        raise Http404
    return factor


def _factors_url(team, pk) -> str:
    return reverse("incidents:postmortem", args=[team.slug, pk]) + "#factors"


def _answer(request, team, pk, form=None, *, status=200):
    context = _postmortem_context(team, _postmortem(team, pk), factor_form=form)
    template = "incidents/_factors_swap.html" if request.htmx else "incidents/postmortem.html"
    return render(request, template, context, status=status)


@require_POST
@team_view(MEMBER)
@once
def factor_add(request, team, pk):
    """Add a contributing factor; with htmx the list is swapped in place."""
    postmortem = _postmortem(team, pk)
    form = ContributingFactorForm(request.POST)
    if form.is_valid():
        try:
            factors.add_contributing_factor(postmortem=postmortem, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
    if not form.errors and not request.htmx:
        return redirect(_factors_url(team, pk))
    return _answer(request, team, pk, form if form.errors else None, status=400 if form.errors else 200)


@team_view(MEMBER)
def factor_edit(request, team, pk, factor_pk):
    """Correct a factor's category or description (refused once the postmortem is published)."""
    factor = _factor(team, pk, factor_pk)
    initial = {"category": factor.category, "description": factor.description}
    return submit(
        request,
        ContributingFactorForm(request.POST or None, initial=initial),
        lambda data: factors.update_contributing_factor(factor=factor, **data),
        done=_factors_url(team, pk),
        message=_("Contributing factor updated."),
        template="incidents/factor_edit.html",
        context={"team": team, "postmortem": factor.postmortem, "factor": factor},
    )


@require_POST
@team_view(MEMBER)
def factor_delete(request, team, pk, factor_pk):
    """Remove a factor; an action that addressed it stays, unlinked (refused once published)."""
    factor = _factor(team, pk, factor_pk)
    try:
        factors.delete_contributing_factor(factor=factor)
    except ValidationError as error:
        context = _postmortem_context(team, _postmortem(team, pk), flow_errors=error.messages)
        return render(request, "incidents/postmortem.html", context, status=400)
    if not request.htmx:
        messages.success(request, _("Contributing factor removed."))
        return redirect(_factors_url(team, pk))
    return _answer(request, team, pk)
