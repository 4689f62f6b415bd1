"""Writes on integrations (incoming hooks) and outgoing webhooks."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from integrations.models import Integration, OutgoingWebhook
from teams.models import Team


def _new_credential(integration: Integration) -> None:
    """A new signing secret, or for a bearer-token source a new token: only its digest is kept,
    the token itself is left on `integration.bearer_token` for the caller to show once."""
    if integration.uses_bearer_token:
        from integrations.webhooks import token_digest

        prefix = {Integration.Source.OPSGENIE: "okzog_"}.get(integration.source, "okzam_")
        integration.bearer_token = prefix + secrets.token_urlsafe(32)
        integration.secret = token_digest(integration.bearer_token)
    else:
        integration.secret = secrets.token_urlsafe(32)


@transaction.atomic
def create_integration(*, team: Team, source: str) -> Integration:
    """Connect a webhook source to `team`: one integration per team and source.

    A bearer-token source (Alertmanager) gets its token on `integration.bearer_token`, once.
    """
    integration = Integration(team=team, source=source)
    _new_credential(integration)
    integration.full_clean()
    integration.save()
    return integration


@transaction.atomic
def rotate_integration_secret(*, integration: Integration) -> Integration:
    """Give the integration a new signing secret (or bearer token); the old one is refused from now on."""
    _new_credential(integration)
    integration.save(update_fields=["secret"])
    return integration


@transaction.atomic
def update_integration_settings(*, integration: Integration, grouping: str) -> Integration:
    """Change how the integration's deliveries become incidents; applies to deliveries not yet applied."""
    if grouping != integration.grouping and not integration.offers_grouping:
        raise ValidationError({"grouping": _("This source does not group alerts.")})
    if grouping not in Integration.Grouping.values:
        raise ValidationError({"grouping": _("Unknown grouping.")})
    integration.grouping = grouping
    integration.save(update_fields=["grouping"])
    return integration


@transaction.atomic
def update_integration_mapping(*, integration: Integration, service_map=None, severity_map=None) -> Integration:
    """Replace the integration's mapping (either map, when given); applies to deliveries applied from now on."""
    from integrations import mapping

    services, severities = mapping.clean_maps(integration.team, service_map, severity_map)
    fields = []
    if service_map is not None:
        integration.service_map, fields = services, [*fields, "service_map"]
    if severity_map is not None:
        integration.severity_map, fields = severities, [*fields, "severity_map"]
    if fields:
        integration.save(update_fields=fields)
    return integration


@transaction.atomic
def set_integration_active(*, integration: Integration, active: bool) -> Integration:
    integration.active = active
    integration.save(update_fields=["active"])
    return integration


@transaction.atomic
def create_outgoing_webhook(*, team: Team, url: str, events: list | None = None) -> OutgoingWebhook:
    """Register a URL of the team's that will receive signed events (a public http(s) address: core.egress)."""
    events = events or []
    unknown = [event for event in events if event not in OutgoingWebhook.Event.values]
    if unknown:
        raise ValidationError({"events": _("Unknown event: %(events)s.") % {"events": ", ".join(unknown)}})
    endpoint = OutgoingWebhook(team=team, url=url, events=events)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def delete_outgoing_webhook(*, endpoint: OutgoingWebhook) -> None:
    """Stop sending events to this URL (its delivery log goes with it)."""
    endpoint.delete()
