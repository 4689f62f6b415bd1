"""Web pages of a team: its landing page and the membership page of its leads."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors, submit
from core.once import once
from teams import selectors, services
from teams.decorators import team_view
from teams.forms import ApiTokenForm, LocalLoginForm, MemberForm
from teams.models import ApiToken, Membership


class LoginView(auth_views.LoginView):
    """Sign-in: single sign-on when configured, the password form unless local sign-in is turned off."""

    authentication_form = LocalLoginForm

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "sso_enabled": settings.SSO_ENABLED,
            "local_login_enabled": settings.LOCAL_LOGIN_ENABLED,
        }


@require_GET
@team_view()
def team_home(request, team):
    return redirect("reporting:dashboard", team.slug)


@team_view(Membership.Role.LEAD)
@once
def members(request, team):
    """Leads add people to the team or change their role."""

    def save(data):
        user = get_user_model().objects.filter(username=data["username"], is_active=True).first()
        if user is None:
            raise ValidationError({"username": _("No active user has this username.")})
        return services.add_member(team=team, user=user, role=data["role"], by=request.user)

    return submit(
        request,
        MemberForm(request.POST or None),
        save,
        done=reverse("teams:members", args=[team.slug]),
        message=lambda membership: _("%(user)s is now %(role)s.") % {"user": membership.user, "role": membership.role},
        template="teams/members.html",
        context=lambda: {
            "team": team,
            "memberships": team.memberships.select_related("user").order_by("user__username"),
        },
    )


@require_POST
@team_view(Membership.Role.LEAD)
def remove_member(request, team, membership_id):
    """Leads remove someone from the team; their personal tokens of it are revoked with it."""
    membership = get_object_or_404(Membership.objects.select_related("user"), team=team, pk=membership_id)
    try:
        services.remove_member(membership=membership, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("%(user)s left the team; their personal tokens are revoked.") % {"user": membership.user}
        )
    return redirect("teams:members", team.slug)


@team_view(Membership.Role.LEAD)
def tokens(request, team):
    new_key = None
    form = ApiTokenForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                token, new_key = services.create_api_token(team=team, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Token “%(name)s” created. Copy the key now: it will not be shown again.") % {"name": token.name},
                )
                form, status = ApiTokenForm(), 200
    tokens = list(selectors.api_tokens_for_team(team))
    for token in tokens:
        token.effective = token.effective_scope(token.current_holder_role())
    return render(
        request,
        "teams/settings_tokens.html",
        {
            "team": team,
            "form": form,
            "new_key": new_key,
            "tokens": tokens,
        },
        status=status,
    )


@require_POST
@team_view(Membership.Role.LEAD)
def revoke_token(request, team, token_id):
    token = get_object_or_404(ApiToken, team=team, pk=token_id)
    services.revoke_api_token(token=token, by=request.user, reason="revoked by a lead")
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("teams:tokens", team_slug=team.slug)
