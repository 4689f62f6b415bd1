"""Forms of the teams pages, and the bridge from a service's ValidationError to form errors."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from teams.models import ApiToken, Membership


class MemberForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    scope = forms.ChoiceField(label=_("scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ)
    kind = forms.ChoiceField(
        label=_("kind"),
        choices=ApiToken.Kind.choices,
        initial=ApiToken.Kind.PERSONAL,
        required=False,
        help_text=_(
            "A personal token acts as you, never beyond your current role, and is revoked when you leave "
            "the team. A service token belongs to the team, outlives any one person and writes as a member."
        ),
    )

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] or ApiToken.Kind.PERSONAL


class LocalLoginForm(AuthenticationForm):
    """The password form; with local sign-in turned off it says so instead of “wrong password”."""

    def get_invalid_login_error(self):
        if not settings.LOCAL_LOGIN_ENABLED:
            return forms.ValidationError(
                _("Password sign-in is turned off: sign in with single sign-on."), code="local_login_disabled"
            )
        return super().get_invalid_login_error()
