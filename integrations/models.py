"""Incoming webhook sources of a team (and their delivery log), and its outgoing webhooks (outbox).

The tables keep the names they had when these models lived in the teams app.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.egress import validate_outgoing_url
from core.signing import new_webhook_secret
from teams.models import Team


class Integration(models.Model):
    """One incoming webhook source of a team, with its own signing secret and hook URL."""

    class Source(models.TextChoices):
        JIRA = "jira", "Jira"
        GITHUB = "github", "GitHub"
        PAGERDUTY = "pagerduty", "PagerDuty"
        SERVICENOW = "servicenow", "ServiceNow"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", _("Grafana alerting")
        OPSGENIE = "opsgenie", "Opsgenie"
        GENERIC = "generic", _("generic JSON")

    class Grouping(models.TextChoices):
        ALERT = "alert", _("one incident per alert (by fingerprint)")
        GROUP = "group", _("one incident per alert group")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="integrations")
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    public_id = models.UUIDField(_("hook id"), default=uuid.uuid4, unique=True, editable=False)
    # The HMAC signing secret; for Alertmanager, which authenticates with a bearer token, only the
    # token's digest ("sha256:<hex>", integrations.services.issue_bearer_token).
    secret = models.CharField(_("signing secret"), max_length=200, default=new_webhook_secret)
    active = models.BooleanField(_("active"), default=True)
    grouping = models.CharField(
        _("alert grouping"),
        max_length=5,
        choices=Grouping.choices,
        default=Grouping.ALERT,
        help_text=_("Alerting sources: what becomes one incident."),
    )
    # The lead's mapping (integrations.mapping): source value → service slug, and source severity
    # or priority → SEV1…SEV4; keys lower-cased. Read with the row by the drain: no extra query.
    service_map = models.JSONField(
        _("service mapping"), default=dict, blank=True, help_text=_("Source value → service slug.")
    )
    severity_map = models.JSONField(
        _("severity mapping"), default=dict, blank=True, help_text=_("Source severity or priority → SEV1…SEV4.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "teams_integration"
        ordering = ["team__name", "source"]
        constraints = [models.UniqueConstraint(fields=["team", "source"], name="integration_unique_team_source")]

    def __str__(self) -> str:
        return f"{self.team} · {self.get_source_display()}"

    # The sources whose alerts may be grouped into one incident (the lead's `grouping` choice).
    GROUPING_SOURCES = (Source.ALERTMANAGER, Source.GRAFANA)

    @property
    def offers_grouping(self) -> bool:
        return self.source in self.GROUPING_SOURCES

    @property
    def uses_bearer_token(self) -> bool:
        """Authenticated by a token whose digest only is stored (shown once), not an HMAC secret:
        Alertmanager's bearer token, Opsgenie's custom header."""
        return self.source in (self.Source.ALERTMANAGER, self.Source.OPSGENIE)


class WebhookDelivery(models.Model):
    """One delivery to a hook URL: accepted ones keep the raw body; refused ones only the reason.

    An accepted delivery is stored `queued` and applied later by the inbox drain
    (integrations.webhooks.processing.drain_inbox), which records its final outcome.
    """

    class Outcome(models.TextChoices):
        QUEUED = "queued", _("queued (accepted, not applied yet)")
        PROCESSED = "processed", _("processed")
        IGNORED = "ignored", _("ignored (event not used)")
        DUPLICATE = "duplicate", _("duplicate (already processed)")
        FAILED = "failed", _("failed (rejected by the domain rules)")
        REFUSED = "refused", _("refused (signature, timestamp or format)")

    # Outcomes of a delivery whose vendor id may not be taken again.
    FIRST_OUTCOMES = (Outcome.QUEUED, Outcome.PROCESSED, Outcome.IGNORED, Outcome.FAILED)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    vendor_delivery_id = models.CharField(_("vendor delivery id"), max_length=200, blank=True)
    event = models.CharField(_("event"), max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)
    result = models.JSONField(default=dict, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "teams_webhookdelivery"
        ordering = ["-received_at", "-id"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "vendor_delivery_id"],
                condition=~Q(vendor_delivery_id="") & Q(outcome__in=["queued", "processed", "ignored", "failed"]),
                name="webhook_delivery_unique_vendor_id",
            )
        ]
        indexes = [
            # The delivery log of an integration, newest first (/t/<team>/settings/integrations/<id>/deliveries/).
            models.Index(fields=["integration", "-received_at", "-id"], name="webhook_delivery_log"),
            # The inbox: what the drain reads, per integration in arrival order.
            models.Index(fields=["integration", "id"], condition=Q(outcome="queued"), name="webhook_delivery_inbox"),
            # The oldest queued delivery of all (the drain's next batch): without it, PostgreSQL walks the
            # primary key past every applied delivery (241 000 of them: 227 ms per batch, bench/drain_bench.py).
            models.Index(fields=["id"], condition=Q(outcome="queued"), name="webhook_delivery_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.integration} {self.event} {self.outcome}"

    def field_errors(self) -> list[tuple[str, list[str]]]:
        """The fields at fault of a failed delivery, as (field, messages) pairs, for the delivery log."""
        errors = (self.result or {}).get("errors") if self.outcome == self.Outcome.FAILED else None
        if not isinstance(errors, dict):
            return []
        return [
            (str(field), [str(m) for m in messages] if isinstance(messages, list) else [str(messages)])
            for field, messages in errors.items()
        ]


class OutgoingWebhook(models.Model):
    """A URL of the team's that receives signed events (action moved, review session opened)."""

    class Event(models.TextChoices):
        ACTION_MOVED = "action.moved", _("an action changed stage")
        REVIEW_SESSION_OPENED = "review_session.opened", _("a review session was opened")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="outgoing_webhooks")
    url = models.URLField(
        _("URL"),
        max_length=500,
        validators=[validate_outgoing_url],
        help_text=_("An http(s) URL on a public address (internal ones are refused)."),
    )
    # The HMAC signing secret; for Alertmanager, which authenticates with a bearer token, only the
    # token's digest ("sha256:<hex>", integrations.services.issue_bearer_token).
    secret = models.CharField(_("signing secret"), max_length=200, default=new_webhook_secret)
    events = models.JSONField(_("events"), default=list, blank=True, help_text=_("Empty means every event."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "teams_outgoingwebhook"
        ordering = ["team__name", "url"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class OutgoingDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    endpoint = models.ForeignKey(OutgoingWebhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Outbox: the row is written in the transaction of the domain write; whoever sends
    # it (the Celery nudge or the periodic dispatcher) first claims it until `claimed_until`.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "teams_outgoingdelivery"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("outgoing deliveries")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="teams_outgoing_due_idx"),
            # The admin's newest-first list, and the retention pruning (integrations/retention.py).
            models.Index(fields=["created_at"], name="teams_outgoing_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
