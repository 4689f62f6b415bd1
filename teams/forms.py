"""Forms of the teams pages, and the bridge from a service's ValidationError to form errors."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from teams.models import ApiToken, Integration, Membership, OutgoingWebhook


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal in place: errors on known fields go there, the rest above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.error_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [message for e in errors for message in e.messages])


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    scope = forms.ChoiceField(label=_("scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)


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
