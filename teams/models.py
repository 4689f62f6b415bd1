"""Teams, who belongs to them, and the services they run."""

import datetime as dt
import hashlib
import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from teams.egress import validate_outgoing_url


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known IANA time zone."), params={"value": value})


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_("Weekly metrics and rituals follow this time zone."),
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer", _("viewer")
        MEMBER = "member", _("member")
        LEAD = "lead", _("lead")

    # Ordered: a role includes the rights of the roles before it.
    RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.LEAD: 2}

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def allows(self, role: str) -> bool:
        """True when this membership's role is at least `role`."""
        return self.RANK[self.role] >= self.RANK[role]


class Service(models.Model):
    class Tier(models.IntegerChoices):
        TIER1 = 1, _("tier 1 (critical)")
        TIER2 = 2, _("tier 2")
        TIER3 = 3, _("tier 3")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.TIER2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="service_unique_team_slug")]

    def __str__(self) -> str:
        return self.name


# --- API access and integrations ---------------------------------------------
# Tokens, incoming webhook sources, their delivery log, Idempotency-Key records
# and outgoing webhook endpoints. Secrets of tokens are never stored: only a
# lookup prefix and the SHA-256 of the key.


def _new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        READ = "read", _("read")
        READ_WRITE = "read_write", _("read and write")

    KEY_PREFIX = "okz"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses this token, e.g. “Jira automation”."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.READ_WRITE

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Integration(models.Model):
    """One incoming webhook source of a team, with its own signing secret and hook URL."""

    class Source(models.TextChoices):
        JIRA = "jira", "Jira"
        GITHUB = "github", "GitHub"
        PAGERDUTY = "pagerduty", "PagerDuty"
        SERVICENOW = "servicenow", "ServiceNow"
        GENERIC = "generic", _("generic JSON")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="integrations")
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    public_id = models.UUIDField(_("hook id"), default=uuid.uuid4, unique=True, editable=False)
    secret = models.CharField(_("signing secret"), max_length=200, default=_new_webhook_secret)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "source"]
        constraints = [models.UniqueConstraint(fields=["team", "source"], name="integration_unique_team_source")]

    def __str__(self) -> str:
        return f"{self.team} · {self.get_source_display()}"


class WebhookDelivery(models.Model):
    """One delivery to a hook URL: accepted ones keep the raw body; refused ones only the reason.

    An accepted delivery is stored `queued` and applied later by the inbox drain
    (teams.webhooks.processing.drain_inbox), which records its final outcome.
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


class IdempotencyKey(models.Model):
    """The first successful response to a POST sent with an Idempotency-Key, replayed on a retry."""

    # What the API documents ("Kept 24 hours"): a key is forgotten, and its row pruned, after this.
    TTL = dt.timedelta(hours=24)

    owner = models.CharField(max_length=40, help_text=_("token:<id> or user:<id>"))
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text=_("SHA-256 of method, path and body"))
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique_owner_key")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


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
    secret = models.CharField(_("signing secret"), max_length=200, default=_new_webhook_secret)
    events = models.JSONField(_("events"), default=list, blank=True, help_text=_("Empty means every event."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
    # Outbox (issue 7): the row is written in the transaction of the domain write; whoever sends
    # it (the Celery nudge or the periodic dispatcher) first claims it until `claimed_until`.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("outgoing deliveries")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="teams_outgoing_due_idx"),
            # The admin's newest-first list, and the retention pruning (teams/retention.py).
            models.Index(fields=["created_at"], name="teams_outgoing_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint} ({self.status})"
