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
