"""Forms of the improvement pages: input shape only; improvement.services owns the PDCA rules."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from improvement.models import Action, Stage, Verdict
from improvement.services import PLAN_ONLY_FIELDS
from incidents.forms import team_members
from incidents.models import ContributingFactor, FactorCategory, Problem
from teams.models import Service

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class FactorChoiceField(forms.ModelChoiceField):
    """A contributing factor named with its incident, so that factors of several postmortems can be told apart."""

    def label_from_instance(self, obj: ContributingFactor) -> str:
        return factor_label(obj, with_incident=True)


def factor_label(factor: ContributingFactor, *, with_incident: bool = False) -> str:
    text = f"{factor.get_category_display()}: {factor.description[:80]}"
    return f"{factor.postmortem.incident.title} — {text}" if with_incident else text


def factors_for_team(team):
    return (
        ContributingFactor.objects.filter(team=team)
        .select_related("postmortem__incident")
        .order_by("-postmortem__created_at", "id")
    )


class ActionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Action.Kind.choices, initial=Action.Kind.CORRECTIVE)
    problem_statement = forms.CharField(
        label=_("Problem statement"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    hypothesis = forms.CharField(
        label=_("Hypothesis"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("If we do X, we expect Y to change, because Z."),
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=get_user_model().objects.none(), required=False)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DATE_INPUT)
    target_kind = forms.ChoiceField(
        label=_("Target"),
        required=False,
        choices=[("", "—"), *Action.TargetKind.choices],
        help_text=_("What the Check will measure: the incidents to prevent, or a metric to move."),
    )
    target_service = forms.ModelChoiceField(label=_("Target service"), queryset=Service.objects.none(), required=False)
    target_problem = forms.ModelChoiceField(label=_("Target problem"), queryset=Problem.objects.none(), required=False)
    target_factor_category = forms.ChoiceField(
        label=_("Target factor category"), required=False, choices=[("", "—"), *FactorCategory.choices]
    )
    target_metric = forms.CharField(label=_("Target metric"), max_length=60, required=False)
    target_direction = forms.ChoiceField(
        label=_("Direction"), required=False, choices=[("", "—"), *Action.Direction.choices]
    )
    check_window_days = forms.IntegerField(
        label=_("Observation window (days)"),
        min_value=1,
        max_value=365,
        initial=28,
        help_text=_("The baseline is the same length before Do."),
    )
    external_ticket = forms.CharField(
        label=_("External ticket"), max_length=500, required=False, help_text=_("Jira key, GitHub issue URL…")
    )
    addresses_factor = FactorChoiceField(
        label=_("Addresses the factor"),
        queryset=ContributingFactor.objects.none(),
        required=False,
        help_text=_("The contributing factor of a postmortem this action answers."),
    )

    def __init__(self, *args, team, action: Action | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = team_members(team)
        self.fields["addresses_factor"].queryset = factors_for_team(team)
        self.fields["target_service"].queryset = Service.objects.filter(team=team)
        self.fields["target_problem"].queryset = Problem.objects.filter(team=team)
        if action is not None and action.stage != Stage.PLAN:
            # The target is what the Check measures: fixed once the action has left Plan.
            for name in PLAN_ONLY_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the action has left Plan.")

    @classmethod
    def initial_from(cls, action: Action) -> dict:
        return {name: getattr(action, name) for name in cls.base_fields}

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        for name, field in self.fields.items():
            is_text = isinstance(field, forms.CharField | forms.ChoiceField)
            if is_text and not isinstance(field, forms.ModelChoiceField) and data.get(name) is None:
                data[name] = ""
        return data


class MoveForm(forms.Form):
    """What a stage move needs; the template shows the fields the target stage asks for."""

    to_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    from_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    baseline_value = forms.FloatField(label=_("Baseline"), required=False)
    observed_value = forms.FloatField(label=_("Observed"), required=False)
    verdict = forms.ChoiceField(label=_("Verdict"), required=False, choices=[("", "—"), *Verdict.choices])
    decision = forms.ChoiceField(
        label=_("Decision"),
        required=False,
        widget=forms.RadioSelect,
        choices=[
            (Action.Decision.STANDARDISE, _("Standardise: it worked, make it the way we work")),
            (Action.Decision.ADJUST, _("Adjust: close this cycle and plan another one")),
        ],
    )
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CheckForm(forms.Form):
    """Self-reported values of a target kept outside OpsKaizen (a measurable target is measured, not typed)."""

    baseline_value = forms.FloatField(label=_("Baseline"))
    observed_value = forms.FloatField(label=_("Observed"))
    self_reported_source = forms.CharField(
        label=_("Source of the values"),
        max_length=300,
        help_text=_("Where these figures come from (a report, a tool)."),
    )
    verdict = forms.ChoiceField(label=_("Verdict"), required=False, choices=[("", "—"), *Verdict.choices])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ExtendCheckForm(forms.Form):
    days = forms.IntegerField(label=_("Observe longer by (days)"), min_value=1, max_value=365, initial=14)
    reason = forms.CharField(label=_("Why"), required=False, max_length=2000)


class QuickActionForm(forms.Form):
    """An action created from a postmortem in one step; the plan is completed later on its page."""

    title = forms.CharField(label=_("Action title"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Action.Kind.choices, initial=Action.Kind.CORRECTIVE)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=get_user_model().objects.none(), required=False)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    addresses_factor = forms.ModelChoiceField(
        label=_("Addresses the factor"), queryset=ContributingFactor.objects.none(), required=False
    )

    def __init__(self, *args, team, postmortem=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = team_members(team)
        picker = self.fields["addresses_factor"]
        if postmortem is None:
            del self.fields["addresses_factor"]
            return
        # The postmortem's own factors, already loaded by its page: no query to list them.
        picker.queryset = ContributingFactor.objects.filter(postmortem=postmortem)
        picker.widget.choices = [("", picker.empty_label), *((f.pk, factor_label(f)) for f in postmortem.factors.all())]
