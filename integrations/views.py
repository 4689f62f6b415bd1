"""Team settings pages for leads: API tokens (key shown once), webhook integrations and their delivery log."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.forms import add_service_errors
from integrations import mapping
from integrations import selectors as integration_selectors
from integrations import services as integration_services
from integrations.filters import DeliveryFilterSet
from integrations.forms import IntegrationForm, IntegrationSettingsForm, MappingForm, OutgoingWebhookForm
from integrations.models import Integration, OutgoingWebhook, WebhookDelivery
from integrations.webhooks import opsgenie, processing
from integrations.webhooks import preview as mapping_preview
from teams.decorators import team_view
from teams.models import Membership


@team_view(Membership.Role.LEAD)
def integrations(request, team):
    form = IntegrationForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        try:
            integration = integration_services.create_integration(team=team, source=form.cleaned_data["source"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(source)s connected.") % {"source": integration.get_source_display()})
            _show_token_once(request, integration)
            return redirect("integrations:integrations", team_slug=team.slug)
    return _integrations_page(request, team, form=form)


def _integrations_page(request, team, *, form=None, outgoing_form=None, status=200):
    counts = integration_selectors.delivery_counts_by_integration(team)
    rows = [
        (
            integration,
            request.build_absolute_uri(reverse("hooks:receive", args=[integration.public_id])),
            counts.get(integration.pk, {}),
        )
        for integration in Integration.objects.filter(team=team)
    ]
    return render(
        request,
        "integrations/settings_integrations.html",
        {
            "team": team,
            "form": form if form is not None else IntegrationForm(team=team),
            "rows": rows,
            "queued": sum(c["queued"] for c in counts.values()),
            "failed": sum(c["failed"] for c in counts.values()),
            "oldest_queued": min((c["oldest_queued"] for c in counts.values() if c["oldest_queued"]), default=None),
            "failure_days": integration_selectors.RECENT_FAILURES.days,
            "outgoing": OutgoingWebhook.objects.filter(team=team),
            "outgoing_form": outgoing_form if outgoing_form is not None else OutgoingWebhookForm(),
        },
        status=status,
    )


@require_POST
@team_view(Membership.Role.LEAD)
def add_outgoing(request, team):
    form = OutgoingWebhookForm(request.POST)
    if form.is_valid():
        try:
            integration_services.create_outgoing_webhook(team=team, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Events will be sent to %(url)s.") % {"url": form.cleaned_data["url"]})
            return redirect("integrations:integrations", team_slug=team.slug)
    # The refusal shows on the field at fault, with what the lead typed.
    return _integrations_page(request, team, outgoing_form=form, status=400)


@require_POST
@team_view(Membership.Role.LEAD)
def delete_outgoing(request, team, endpoint_id):
    endpoint = get_object_or_404(OutgoingWebhook, team=team, pk=endpoint_id)
    integration_services.delete_outgoing_webhook(endpoint=endpoint)
    messages.success(request, _("No more events to %(url)s.") % {"url": endpoint.url})
    return redirect("integrations:integrations", team_slug=team.slug)


@require_POST
@team_view(Membership.Role.LEAD)
def rotate_secret(request, team, integration_id):
    integration = get_object_or_404(Integration, team=team, pk=integration_id)
    integration_services.rotate_integration_secret(integration=integration)
    messages.success(
        request,
        _("New secret for %(source)s: update it in the tool now.") % {"source": integration.get_source_display()},
    )
    _show_token_once(request, integration)
    return redirect("integrations:integrations", team_slug=team.slug)


def _show_token_once(request, integration: Integration) -> None:
    """A bearer token is stored only as its digest: this message is the one time it is shown."""
    token = getattr(integration, "bearer_token", None)
    if token and integration.source == Integration.Source.OPSGENIE:
        messages.warning(
            request,
            _("Token for %(source)s, for its %(header)s custom header (shown once, copy it now): %(token)s")
            % {"source": integration.get_source_display(), "header": opsgenie.TOKEN_HEADER, "token": token},
        )
    elif token:
        messages.warning(
            request,
            _("Bearer token for %(source)s (shown once, copy it now): %(token)s")
            % {"source": integration.get_source_display(), "token": token},
        )


@team_view(Membership.Role.LEAD)
def integration_settings(request, team, integration_id):
    """One integration's settings: how its alerts become incidents."""
    integration = get_object_or_404(Integration, team=team, pk=integration_id)
    form = IntegrationSettingsForm(request.POST or None, initial={"grouping": integration.grouping})
    if request.method == "POST" and form.is_valid():
        try:
            integration_services.update_integration_settings(integration=integration, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Settings of %(source)s saved.") % {"source": integration.get_source_display()})
            return redirect("integrations:integration", team_slug=team.slug, integration_id=integration.pk)
    return _integration_page(request, team, integration, form=form, status=400 if form.errors else 200)


def _integration_page(request, team, integration, *, form=None, mapping_form=None, preview=None, status=200):
    deliveries = integration_selectors.deliveries_to_try(integration)
    if mapping_form is None:
        mapping_form = MappingForm(
            initial={
                "service_map": mapping.format_lines(integration.service_map),
                "severity_map": mapping.format_lines(integration.severity_map),
            },
            deliveries=deliveries,
        )
    return render(
        request,
        "integrations/settings_integration.html",
        {
            "team": team,
            "integration": integration,
            "form": form or IntegrationSettingsForm(initial={"grouping": integration.grouping}),
            "mapping_form": mapping_form,
            "preview": preview,
            "hook_url": request.build_absolute_uri(reverse("hooks:receive", args=[integration.public_id])),
            "token_header": opsgenie.TOKEN_HEADER,
        },
        status=status,
    )


@require_POST
@team_view(Membership.Role.LEAD)
def integration_mapping(request, team, integration_id):
    """Save the integration's mapping, or (button "preview") try it on a stored delivery without writing."""
    integration = get_object_or_404(Integration.objects.select_related("team"), team=team, pk=integration_id)
    deliveries = integration_selectors.deliveries_to_try(integration)
    form = MappingForm(request.POST, deliveries=deliveries)
    if not form.is_valid():
        return _integration_page(request, team, integration, mapping_form=form, status=400)
    try:
        service_map = mapping.parse_lines(form.cleaned_data["service_map"], "service_map")
        severity_map = mapping.parse_lines(form.cleaned_data["severity_map"], "severity_map")
        services, severities = mapping.clean_maps(team, service_map, severity_map)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _integration_page(request, team, integration, mapping_form=form, status=400)
    if "preview" in request.POST:
        chosen = form.cleaned_data["delivery"]
        if chosen is None:
            form.add_error("delivery", _("Choose a stored delivery to try the mapping on."))
            return _integration_page(request, team, integration, mapping_form=form, status=400)
        delivery = WebhookDelivery.objects.get(pk=chosen, integration=integration)  # one of the choices
        rows = mapping_preview.preview(integration, delivery, service_map=services, severity_map=severities)
        return _integration_page(request, team, integration, mapping_form=form, preview=rows)
    integration_services.update_integration_mapping(
        integration=integration, service_map=services, severity_map=severities
    )
    messages.success(request, _("Mapping of %(source)s saved.") % {"source": integration.get_source_display()})
    return redirect("integrations:integration", team_slug=team.slug, integration_id=integration.pk)


@team_view(Membership.Role.LEAD)
@require_GET
def deliveries(request, team, integration_id):
    """One integration's delivery log: what each delivery became and why it failed, newest first."""
    integration = get_object_or_404(Integration, team=team, pk=integration_id)
    everything = integration_selectors.deliveries_for_integration(integration)
    filterset = DeliveryFilterSet(request.GET, queryset=everything)
    valid = filterset.is_valid()
    page = Paginator(filterset.qs if valid else everything, settings.UI_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/settings_deliveries.html",
        {
            "team": team,
            "integration": integration,
            "filterset": filterset,
            "page": page,
            "reapplicable": WebhookDelivery.Outcome.FAILED,
            "excerpt_chars": integration_selectors.BODY_EXCERPT_CHARS,
        },
        status=200 if valid else 400,
    )


@team_view(Membership.Role.LEAD)
@require_POST
def reapply_delivery(request, team, integration_id, delivery_id):
    """Apply a failed delivery again, once its cause is fixed; the message says what it became."""
    delivery = get_object_or_404(
        WebhookDelivery.objects.only("pk", "integration_id", "vendor_delivery_id"),
        team=team,
        integration__team=team,
        integration_id=integration_id,
        pk=delivery_id,
    )
    name = delivery.vendor_delivery_id or f"#{delivery.pk}"
    try:
        delivery = processing.reapply_failed(delivery=delivery)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if delivery.outcome == WebhookDelivery.Outcome.FAILED:
            error = Truncator(delivery.error).chars(300)  # the row shows it whole
            messages.error(request, _("Delivery %(name)s failed again: %(error)s") % {"name": name, "error": error})
        else:
            messages.success(
                request,
                _("Delivery %(name)s applied again: %(outcome)s.")
                % {"name": name, "outcome": delivery.get_outcome_display()},
            )
    # Back to the page the lead was on (its filter and page number, checked), at the delivery's row.
    back = {}
    if request.POST.get("outcome") in WebhookDelivery.Outcome.values:
        back["outcome"] = request.POST["outcome"]
    if request.POST.get("page", "").isdigit():
        back["page"] = request.POST["page"]
    url = reverse("integrations:deliveries", args=[team.slug, integration_id])
    return redirect(f"{url}{'?' + urlencode(back) if back else ''}#delivery-{delivery.pk}")
