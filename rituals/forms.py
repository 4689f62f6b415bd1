"""Forms of the rituals and review-board pages."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from improvement.forms import DATE_INPUT
from improvement.models import Action, Stage, Verdict
from incidents.forms import team_members
from rituals.models import Ritual


class RitualForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Ritual.Kind.choices, initial=Ritual.Kind.WEEKLY_REVIEW)
    weekday = forms.TypedChoiceField(
        label=_("Weekday"), choices=[("", "—"), *Ritual.Weekday.choices], coerce=int, empty_value=None, required=False
    )
    time_of_day = forms.TimeField(label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    rrule = forms.CharField(
        label=_("RRULE"),
        required=False,
        help_text=_("Optional: an RFC 5545 rule (e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=10) instead of weekday + time."),
    )
    timezone = forms.CharField(label=_("Time zone"), max_length=64)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=5, max_value=600, initial=60)
    attendees = forms.ModelMultipleChoiceField(
        label=_("Attendees"), queryset=get_user_model().objects.none(), required=False
    )
    notify_email = forms.BooleanField(label=_("Notify by email"), required=False, initial=True)
    chat_webhook_url = forms.URLField(label=_("Chat webhook URL"), required=False, assume_scheme="https")
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    stale_after_days = forms.IntegerField(
        label=_("Stale after (days)"),
        min_value=1,
        max_value=365,
        initial=14,
        help_text=_("An open action with no stage move for this many days shows on the agenda as stale."),
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = get_user_model().objects.filter(memberships__team=team).order_by("username")
        self.fields["timezone"].initial = team.timezone

    @classmethod
    def initial_from(cls, ritual: Ritual) -> dict:
        initial = {name: getattr(ritual, name) for name in cls.base_fields if name != "attendees"}
        initial["attendees"] = list(ritual.attendees.all())
        return initial


class AttendanceForm(forms.Form):
    attendees = forms.ModelMultipleChoiceField(
        label=_("Attendees"),
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].queryset = get_user_model().objects.filter(memberships__team=team).order_by("username")


class NotesForm(forms.Form):
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 5}))


class BoardDecisionForm(forms.Form):
    """One decision on one agenda item; `decision` says which of the other fields count."""

    DECISIONS = [
        ("discussed", _("Mark as discussed")),
        ("move", _("Move stage")),
        ("assign", _("Assign")),
        ("redate", _("Re-date")),
        ("new_action", _("Create an action")),
    ]
    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    item_id = forms.CharField(max_length=80, widget=forms.HiddenInput)
    action_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    to_stage = forms.ChoiceField(label=_("Move to"), required=False, choices=[("", "—"), *Stage.choices])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    verdict = forms.ChoiceField(label=_("Verdict"), required=False, choices=[("", "—"), *Verdict.choices])
    decision_taken = forms.ChoiceField(
        label=_("Decision"),
        required=False,
        choices=[("", "—"), *((d.value, d.label) for d in (Action.Decision.STANDARDISE, Action.Decision.ADJUST))],
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=get_user_model().objects.none(), required=False)
    due_date = forms.DateField(label=_("Due date"), required=False, widget=DATE_INPUT)
    title = forms.CharField(label=_("Action title"), max_length=200, required=False)

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)

        self.fields["owner"].queryset = team_members(team)

    def clean(self):
        data = super().clean()
        needs = {"move": "to_stage", "assign": "owner", "redate": "due_date", "new_action": "title"}
        field = needs.get(data.get("decision"))
        if field and not data.get(field):
            self.add_error(field, _("This field is required."))
        if data.get("decision") in ("move", "assign", "redate") and not data.get("action_id"):
            self.add_error(None, _("This item is not an action."))
        return data


class MonthlyReportForm(forms.Form):
    """Which month the monthly operations report covers, and in which language it is written."""

    month = forms.DateField(
        label=_("Month"),
        input_formats=["%Y-%m"],
        required=False,
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        error_messages={"invalid": _("Enter a month as YYYY-MM.")},
    )
    lang = forms.ChoiceField(
        label=_("Language"), choices=[("", _("as the page")), ("en", "English"), ("fr", "Français")], required=False
    )
