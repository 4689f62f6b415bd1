"""Teams, who belongs to them, and the services they run."""

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
