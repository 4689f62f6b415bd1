"""Team settings pages for leads: API tokens (key shown once) and webhook integrations."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from teams import services
from teams.decorators import resolve_team
from teams.forms import ApiTokenForm, IntegrationForm, OutgoingWebhookForm, add_service_errors
from teams.models import ApiToken, Integration, Membership, OutgoingWebhook, Team


def _team_for_lead(request, team_slug) -> Team:
    """The team, when the signed-in user leads it; 404 otherwise (no hint that the team exists)."""
    team, role = resolve_team(request.user, team_slug)
    if Membership.RANK[role] < Membership.RANK[Membership.Role.LEAD]:
        raise Http404
    return team


@login_required
def tokens(request, team_slug):
    team = _team_for_lead(request, team_slug)
    new_key = None
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, new_key = services.create_api_token(team=team, by=request.user, **form.cleaned_data)
        messages.success(
            request, _("Token “%(name)s” created. Copy the key now: it will not be shown again.") % {"name": token.name}
        )
        form = ApiTokenForm()
    return render(
        request,
        "teams/settings_tokens.html",
        {
            "team": team,
            "form": form,
            "new_key": new_key,
            "tokens": ApiToken.objects.filter(team=team).select_related("created_by"),
        },
    )


@login_required
@require_POST
def revoke_token(request, team_slug, token_id):
    team = _team_for_lead(request, team_slug)
    token = get_object_or_404(ApiToken, team=team, pk=token_id)
    services.revoke_api_token(token=token)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("team_settings:tokens", team_slug=team.slug)


@login_required
def integrations(request, team_slug):
    team = _team_for_lead(request, team_slug)
    form = IntegrationForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            integration = services.create_integration(team=team, source=form.cleaned_data["source"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(source)s connected.") % {"source": integration.get_source_display()})
            return redirect("team_settings:integrations", team_slug=team.slug)
    return _integrations_page(request, team, form=form)


def _integrations_page(request, team, *, form=None, outgoing_form=None, status=200):
    rows = [
        (integration, request.build_absolute_uri(reverse("hooks:receive", args=[integration.public_id])))
        for integration in Integration.objects.filter(team=team)
    ]
    return render(
        request,
        "teams/settings_integrations.html",
        {
            "team": team,
            "form": form if form is not None else IntegrationForm(team=team),
            "rows": rows,
            "outgoing": OutgoingWebhook.objects.filter(team=team),
            "outgoing_form": outgoing_form if outgoing_form is not None else OutgoingWebhookForm(),
        },
        status=status,
    )


@login_required
@require_POST
def add_outgoing(request, team_slug):
    team = _team_for_lead(request, team_slug)
    form = OutgoingWebhookForm(request.POST)
    if form.is_valid():
        try:
            services.create_outgoing_webhook(team=team, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Events will be sent to %(url)s.") % {"url": form.cleaned_data["url"]})
            return redirect("team_settings:integrations", team_slug=team.slug)
    # The refusal shows on the field at fault, with what the lead typed.
    return _integrations_page(request, team, outgoing_form=form, status=400)


@login_required
@require_POST
def delete_outgoing(request, team_slug, endpoint_id):
    team = _team_for_lead(request, team_slug)
    endpoint = get_object_or_404(OutgoingWebhook, team=team, pk=endpoint_id)
    services.delete_outgoing_webhook(endpoint=endpoint)
    messages.success(request, _("No more events to %(url)s.") % {"url": endpoint.url})
    return redirect("team_settings:integrations", team_slug=team.slug)


@login_required
@require_POST
def rotate_secret(request, team_slug, integration_id):
    team = _team_for_lead(request, team_slug)
    integration = get_object_or_404(Integration, team=team, pk=integration_id)
    services.rotate_integration_secret(integration=integration)
    messages.success(
        request,
        _("New secret for %(source)s: update it in the tool now.") % {"source": integration.get_source_display()},
    )
    return redirect("team_settings:integrations", team_slug=team.slug)
