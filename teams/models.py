"""Teams, who belongs to them, the services they run, and their API tokens."""

import datetime as dt
import hashlib
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    # What the team's shared records (a review session's summary, its messages) are written in;
    # each person's pages follow their own browser.
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("Review summaries and ritual messages are written in this language."),
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

    class Source(models.TextChoices):
        MANUAL = "manual", _("added in OpsKaizen")
        PROVIDER = "provider", _("from the identity provider")

    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    # A provider-owned membership follows the sign-in claim: granted, changed and removed by it
    # at each sign-in and session refresh; a lead cannot change its role in OpsKaizen.
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def allows(self, role: str) -> bool:
        """True when this membership's role is at least `role`."""
        return self.RANK[self.role] >= self.RANK[role]

    @property
    def from_provider(self) -> bool:
        return self.source == self.Source.PROVIDER


class ExternalIdentity(models.Model):
    """The person an identity provider knows as `subject`: a single sign-on finds its user by this, never by e-mail."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identity")
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    last_sign_in_at = models.DateTimeField(_("last single sign-on"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique_sub")]
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")

    def __str__(self) -> str:
        return f"{self.user} ({self.subject} at {self.issuer})"


class OrganisationRole(models.Model):
    """A role across every team, granted by a superuser: an observer reads all teams and writes in none."""

    class Role(models.TextChoices):
        OBSERVER = "observer", _("observer (read-only over all teams)")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organisation_role")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.OBSERVER)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation role")

    def __str__(self) -> str:
        return f"{self.user}: {self.role}"


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
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_services",
        verbose_name=_("owner"),
        help_text=_("The person who answers for the service."),
    )
    runbook_url = models.URLField(_("runbook"), max_length=500, blank=True)
    dashboard_url = models.URLField(_("dashboard"), max_length=500, blank=True)
    repository_url = models.URLField(_("repository"), max_length=500, blank=True)
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


class ApiToken(models.Model):
    """A team's API key: personal (acts as its creator, never beyond their current role) or the team's own.

    A personal token dies with its holder's membership; a service token belongs to the
    team, survives people leaving, and writes as a member at most (lead actions need a person).
    """

    class Scope(models.TextChoices):
        READ = "read", _("read")
        READ_WRITE = "read_write", _("read and write")

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("personal")
        SERVICE = "service", _("service (owned by the team)")

    KEY_PREFIX = "okz"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses this token, e.g. “Jira automation”."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSONAL)
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

    @property
    def is_service(self) -> bool:
        return self.kind == self.Kind.SERVICE

    @property
    def scope_role(self) -> str:
        """The highest role the token's scope and kind allow, whoever holds it."""
        if not self.can_write:
            return Membership.Role.VIEWER
        return Membership.Role.MEMBER if self.is_service else Membership.Role.LEAD

    def current_holder_role(self) -> str | None:
        """The creator's role in the token's team now (needs the `holder_role` annotation of the selectors).

        A superuser holds every role, a deactivated or deleted user none.
        """
        user = self.created_by
        if user is None or not user.is_active:
            return None
        if user.is_superuser:
            return Membership.Role.LEAD
        return getattr(self, "holder_role", None)

    def effective_role(self, holder_role: str | None) -> str | None:
        """The role this token acts with: its scope capped by its holder's current role (None: refused).

        A service token has no holder to follow: it acts with its scope, as a member at most.
        """
        if self.is_service:
            return self.scope_role
        if holder_role is None:
            return None
        return min(self.scope_role, holder_role, key=Membership.RANK.__getitem__)

    def cap_reason(self, holder_role: str | None) -> str:
        """Why the token acts below its scope, or "" (shown on the tokens page and in 403s)."""
        role = self.effective_role(holder_role)
        if role is None:
            return str(_("refused: its holder is no longer a member of the team"))
        if self.can_write and Membership.RANK[role] < Membership.RANK[Membership.Role.MEMBER]:
            return str(_("capped to read: holder is now a %(role)s") % {"role": role})
        return ""

    def effective_scope(self, holder_role: str | None) -> str:
        """What the token may do now, in words: e.g. “read_write, capped to read: holder is now a viewer”."""
        reason = self.cap_reason(holder_role)
        if reason:
            return f"{self.scope}, {reason}"
        if self.is_service and self.can_write:
            return str(_("%(scope)s, as a member (lead actions need a person)") % {"scope": self.scope})
        return self.scope


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
