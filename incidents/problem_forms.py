"""Forms of the problem pages: the input's shape, with every choice limited to the page's team.

A choice of another team's incident, problem or service is not among the choices: a field error,
and nothing is written.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident, Problem
from teams.models import Service


def open_problems(team):
    """The problems incidents can be attached to: the team's, not merged away."""
    return Problem.objects.filter(team=team, merged_into__isnull=True).order_by("title", "pk")


class ProblemForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.none(), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=Problem.Status.choices, initial=Problem.Status.OPEN)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    workaround = forms.CharField(
        label=_("Known workaround"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What restores service while the cause is not fixed."),
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(team=team).order_by("name")

    @staticmethod
    def initial_from(problem: Problem) -> dict:
        return {name: getattr(problem, name) for name in ("title", "service", "status", "description", "workaround")}


class IncidentsToProblemForm(forms.Form):
    """The incident list's bulk action: attach the ticked incidents to a problem (or a new one), or detach them."""

    ATTACH, DETACH = "attach", "detach"

    incidents = forms.ModelMultipleChoiceField(
        label=_("Incidents"), queryset=Incident.objects.none(), widget=forms.MultipleHiddenInput
    )
    problem = forms.ModelChoiceField(
        label=_("Problem"), queryset=Problem.objects.none(), required=False, empty_label=_("a new problem…")
    )
    new_title = forms.CharField(label=_("New problem’s title"), max_length=200, required=False)
    operation = forms.ChoiceField(
        choices=[(ATTACH, _("Attach")), (DETACH, _("Detach"))], initial=ATTACH, widget=forms.HiddenInput
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incidents"].queryset = Incident.objects.filter(team=team)
        self.fields["problem"].queryset = open_problems(team)

    def clean(self):
        data = super().clean()
        if data.get("operation") == self.ATTACH and not data.get("problem") and not data.get("new_title", "").strip():
            self.add_error("problem", _("Choose a problem, or give the new problem a title."))
        return data


class DetachIncidentsForm(forms.Form):
    incidents = forms.ModelMultipleChoiceField(label=_("Incidents"), queryset=Incident.objects.none())

    def __init__(self, *args, problem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incidents"].queryset = Incident.objects.filter(team_id=problem.team_id, problem=problem)


class MergeProblemForm(forms.Form):
    target = forms.ModelChoiceField(label=_("Merge into"), queryset=Problem.objects.none())

    def __init__(self, *args, problem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = open_problems(problem.team_id).exclude(pk=problem.pk)
