"""Forms of the integrations settings page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.models import Integration, OutgoingWebhook


class IntegrationForm(forms.Form):
    source = forms.ChoiceField(label=_("source"), choices=Integration.Source.choices)

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        taken = set(Integration.objects.filter(team=team).values_list("source", flat=True)) if team else set()
        self.fields["source"].choices = [c for c in Integration.Source.choices if c[0] not in taken]


class OutgoingWebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=OutgoingWebhook.Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )


class IntegrationSettingsForm(forms.Form):
    grouping = forms.ChoiceField(
        label=_("alert grouping"),
        choices=Integration.Grouping.choices,
        help_text=_("Applies to the deliveries applied from now on; incidents already open keep their grouping."),
    )


class MappingForm(forms.Form):
    """The integration's mapping as lines (`source value = target`), and a stored delivery to try it on."""

    service_map = forms.CharField(
        label=_("services"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "One “source value = service slug” per line; a value not listed is matched to a service "
            "whose slug or name it is, ignoring case."
        ),
    )
    severity_map = forms.CharField(
        label=_("severities"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "One “source severity or priority = SEV1…SEV4” per line; a value not listed keeps the source's default."
        ),
    )
    delivery = forms.TypedChoiceField(label=_("stored delivery"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, deliveries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delivery"].choices = [("", "—")] + [
            (d.pk, f"#{d.pk} · {d.event or '?'} · {d.received_at:%Y-%m-%d %H:%M}") for d in deliveries
        ]
