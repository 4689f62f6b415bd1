"""Forms of the incident pages: they check the shape of the input; the services own the rules."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents import selectors
from incidents.models import Change, FactorCategory, Incident, Problem, Severity, TimelineEvent
from teams.models import Membership, Service

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeInput(forms.DateTimeInput):
    """The browser's date-time picker; values are read and shown in the team's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=DATETIME_FORMAT)


def team_members(team, roles=(Membership.Role.MEMBER, Membership.Role.LEAD)):
    return get_user_model().objects.filter(memberships__team=team, memberships__role__in=roles).order_by("username")


class ChangeChoiceField(forms.ModelChoiceField):
    """A change named so that it can be told apart: date, service, kind, then title."""

    def label_from_instance(self, obj: Change) -> str:
        return selectors.change_label(obj)


class IncidentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.none(), required=False)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.SEV3)
    status = forms.ChoiceField(label=_("Status"), choices=Incident.Status.choices, initial=Incident.Status.OPEN)
    started_at = forms.DateTimeField(label=_("Started at"), widget=DateTimeInput(), initial=timezone.now)
    detected_at = forms.DateTimeField(
        label=_("Detected at"), widget=DateTimeInput(), required=False, help_text=_("Defaults to the start.")
    )
    acknowledged_at = forms.DateTimeField(label=_("Acknowledged at"), widget=DateTimeInput(), required=False)
    mitigated_at = forms.DateTimeField(label=_("Mitigated at"), widget=DateTimeInput(), required=False)
    resolved_at = forms.DateTimeField(label=_("Resolved at"), widget=DateTimeInput(), required=False)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    problem = forms.ModelChoiceField(
        label=_("Problem"),
        queryset=Problem.objects.none(),
        required=False,
        help_text=_("The recurring cause, if this incident shares one with others."),
    )
    caused_by_change = ChangeChoiceField(
        label=_("Caused by change"),
        queryset=Change.objects.none(),
        required=False,
        help_text=_("The most recent changes are listed; search to find an older one."),
    )
    url = forms.URLField(
        label=_("Link"), max_length=500, assume_scheme="https", required=False, help_text=_("Ticket or chat channel.")
    )
    commander = forms.ModelChoiceField(
        label=_("Incident commander"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Who leads the response and decides."),
    )
    scribe = forms.ModelChoiceField(
        label=_("Scribe"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Who keeps the timeline while the others work."),
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(team=team)
        # One read of the team's members for both roles (the choices are listed twice, queried once).
        members = list(team_members(team))
        for name in ("commander", "scribe"):
            field = self.fields[name]
            field.queryset = team_members(team)
            field.widget.choices = [("", field.empty_label), *((u.pk, u.get_username()) for u in members)]
        self.fields["problem"].queryset = Problem.objects.filter(team=team).exclude(status=Problem.Status.RESOLVED)
        # Any change of the team is accepted; the list offers the recent ones and the one already
        # chosen (one query whatever the log's size), the search endpoint finds the others.
        picker = self.fields["caused_by_change"]
        picker.queryset = Change.objects.filter(team=team)
        selected = self.data.get(self.add_prefix("caused_by_change")) if self.is_bound else None
        if selected is None:
            selected = getattr(self.initial.get("caused_by_change"), "pk", self.initial.get("caused_by_change"))
        shown = selectors.changes_for_picker(team, selected=selected)
        picker.widget.choices = [("", picker.empty_label), *((c.pk, picker.label_from_instance(c)) for c in shown)]

    @classmethod
    def initial_from(cls, incident: Incident) -> dict:
        return {name: getattr(incident, name) for name in cls.base_fields}

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("summary", "url"):
            data[name] = data.get(name) or ""
        return data


class IncidentMoveForm(forms.Form):
    """Acknowledge / mitigate / resolve / close, now or at an earlier time (the services check the order)."""

    at = forms.DateTimeField(
        label=_("At (optional)"), widget=DateTimeInput(), required=False, help_text=_("Leave empty for now.")
    )


class TimelineEventForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=TimelineEvent.Kind.choices, initial=TimelineEvent.Kind.NOTE)
    occurred_at = forms.DateTimeField(
        label=_("When"), widget=DateTimeInput(), required=False, help_text=_("Leave empty for now.")
    )
    text = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 2}))


class TimelineEventEditForm(forms.Form):
    """Correct an entry; a system entry (a status change, written from data) keeps its text."""

    kind = forms.ChoiceField(label=_("Kind"), choices=TimelineEvent.Kind.choices)
    occurred_at = forms.DateTimeField(label=_("When"), widget=DateTimeInput())
    text = forms.CharField(label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, system: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.system = system
        if system:
            self.fields["text"].disabled = True
            self.fields["text"].help_text = _("Written by the system from the incident's changes.")

    def clean_occurred_at(self):
        # The field shows minutes: an untouched time keeps its seconds (so it stays after the start).
        value, before = self.cleaned_data["occurred_at"], self.initial.get("occurred_at")
        if before is not None and value == before.replace(second=0, microsecond=0):
            return before
        return value

    def changes(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if not (self.system and k == "text")}


class PostmortemForm(forms.Form):
    summary = forms.CharField(
        label=_("Summary"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What happened, in a few sentences a newcomer understands."),
    )
    impact = forms.CharField(
        label=_("Impact"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who was affected, how much and for how long."),
    )
    what_went_well = forms.CharField(
        label=_("What went well"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    what_went_badly = forms.CharField(
        label=_("What went badly"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Describe systems and conditions, not people: this review is blameless."),
    )
    where_we_got_lucky = forms.CharField(
        label=_("Where we got lucky"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    reviewer = forms.ModelChoiceField(
        label=_("Reviewer"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Who reviews and publishes it, besides the leads. Never the author."),
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = team_members(team)


class ContributingFactorForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=FactorCategory.choices)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}))
