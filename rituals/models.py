"""Rituals (recurring meetings of a team), their review sessions and decisions, calendar feeds,
and the log of the notifications sent for them.

The tables keep the names they had when these models lived in the improvement app.
"""

import hashlib
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.egress import validate_outgoing_url
from core.signing import new_feed_token
from improvement.models import Action
from rituals import occurrences
from teams.models import Team, validate_timezone

logger = logging.getLogger(__name__)


class Ritual(models.Model):
    """A recurring meeting of one team."""

    class Kind(models.TextChoices):
        WEEKLY_REVIEW = "weekly_review", _("weekly review board")
        POSTMORTEM_REVIEW = "postmortem_review", _("postmortem review")
        MONTHLY_OPS_REVIEW = "monthly_ops_review", _("monthly operations review")

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rituals")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.WEEKLY_REVIEW)
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices, null=True, blank=True)
    time_of_day = models.TimeField(_("time"), null=True, blank=True)
    rrule = models.TextField(_("RRULE"), blank=True, help_text=_("RFC 5545 recurrence rule; overrides weekday + time."))
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=60)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="rituals")
    notify_email = models.BooleanField(_("notify by email"), default=True)
    chat_webhook_url = models.URLField(
        _("chat webhook URL"),
        max_length=500,
        blank=True,
        validators=[validate_outgoing_url],
        help_text=_("A Slack, Mattermost or Teams incoming webhook, on a public address (internal ones are refused)."),
    )
    active = models.BooleanField(_("active"), default=True)
    next_occurrence = models.DateTimeField(_("next occurrence"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # --- rituals ---
    stale_after_days = models.PositiveSmallIntegerField(
        _("stale after (days)"),
        default=14,
        help_text=_("An open action with no stage move for this many days shows on the agenda as stale."),
    )
    schedule_key = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("Fingerprint of the schedule next_occurrence was computed from; a mismatch means recompute."),
    )

    class Meta:
        db_table = "improvement_ritual"
        ordering = ["team__name", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.refresh_next_occurrence() and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_occurrence", "schedule_key"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if not self.rrule.strip() and (self.weekday is None or self.time_of_day is None):
            raise ValidationError({"weekday": _("Give a weekday and a time, or an RRULE.")})
        if self.rrule.strip():
            error = occurrences.rrule_error(self.rrule)
            if error:
                raise ValidationError({"rrule": error})

    def current_schedule_key(self) -> str:
        """Fingerprint of everything next_occurrence depends on (edits through any path change it)."""
        parts = [self.weekday, self.time_of_day, self.rrule.strip(), self.timezone, self.active]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def refresh_next_occurrence(self, *, now=None) -> bool:
        """Recompute next_occurrence when it is missing or was computed from another schedule.

        Returns True when it changed. A new or edited schedule starts after `now`: editing a
        ritual never opens a session for an occurrence already past.
        """
        from django.utils import timezone as djtz

        key = self.current_schedule_key()
        if self.next_occurrence is not None and self.schedule_key == key:
            return False
        now = now or djtz.now()
        try:
            self.next_occurrence = occurrences.next_occurrence(self, after=now) if self.active else None
        except (ValueError, TypeError) as exc:  # a broken RRULE saved around the form's validation
            logger.warning("ritual %s: cannot compute its next occurrence: %s", self.pk, exc)
            self.next_occurrence = None
        self.schedule_key = key
        return True


class ReviewSession(models.Model):
    """One occurrence of a ritual, with the agenda frozen when it opened."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="review_sessions")
    ritual = models.ForeignKey(Ritual, on_delete=models.CASCADE, related_name="sessions")
    occurrence = models.DateTimeField(_("occurrence"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    agenda = models.JSONField(_("agenda"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    summary = models.TextField(_("summary"), blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    previous = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="next_session"
    )

    class Meta:
        db_table = "improvement_reviewsession"
        ordering = ["-occurrence", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ritual", "occurrence"], name="review_session_unique_ritual_occurrence")
        ]

    def __str__(self) -> str:
        return f"{self.ritual} — {self.occurrence:%Y-%m-%d %H:%M}"


# --- review board ---------------------------------------------------------------------------
class ReviewDecision(models.Model):
    """What a review board recorded on an agenda item: discussed, moved, assigned, re-dated, new action.

    The agenda stays frozen; the decisions are rows beside it, in the order they were taken,
    and the session's closing summary is written from them.
    """

    class Kind(models.TextChoices):
        DISCUSSED = "discussed", _("discussed")
        MOVED = "moved", _("stage moved")
        ASSIGNED = "assigned", _("assigned")
        REDATED = "redated", _("re-dated")
        ACTION_CREATED = "action_created", _("action created")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ReviewSession, on_delete=models.CASCADE, related_name="decisions")
    item_id = models.CharField(_("agenda item"), max_length=80, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    action = models.ForeignKey(Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    text = models.TextField(_("decision"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    at = models.DateTimeField(_("at"))

    class Meta:
        db_table = "improvement_reviewdecision"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "item_id"])]

    def __str__(self) -> str:
        return f"{self.session_id} {self.item_id}: {self.kind}"


class CalendarFeed(models.Model):
    """A secret iCal address listing a team's coming ritual occurrences; revoke it to cut access."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="calendar_feeds")
    label = models.CharField(_("label"), max_length=100, blank=True, help_text=_("Who or what uses this address."))
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_feed_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        db_table = "improvement_calendarfeed"
        ordering = ["team__name", "-created_at"]
        verbose_name = _("calendar feed")

    def __str__(self) -> str:
        return f"{self.team} — {self.label or self.token[:6]}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("calendar-feed", kwargs={"token": self.token})

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Notification(models.Model):
    """One message to one recipient on one channel: the log of what was sent, and the dedupe key.

    The unique constraint on (kind, channel, object_id, period, recipient) is what makes a reminder
    go out once per item and period however many ticks, beats or retries run.
    """

    class Kind(models.TextChoices):
        SESSION_OPENED = "session_opened", _("review session opened")
        SESSION_SUMMARY = "session_summary", _("review session summary")
        ACTION_DUE_SOON = "action_due_soon", _("action due soon")
        ACTION_OVERDUE = "action_overdue", _("action overdue")
        POSTMORTEM_DRAFT = "postmortem_draft", _("postmortem still in draft")

    class Channel(models.TextChoices):
        EMAIL = "email", _("email")
        CHAT = "chat", _("chat webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    object_id = models.PositiveBigIntegerField(_("object id"), help_text=_("The session, action or postmortem."))
    period = models.CharField(_("period"), max_length=20, blank=True, help_text=_("e.g. 2026-W48 for reminders."))
    recipient = models.CharField(_("recipient"), max_length=500, help_text=_("Email address or webhook URL."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        db_table = "improvement_notification"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "object_id", "period", "recipient"], name="notification_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient_display} ({self.status})"

    @property
    def recipient_display(self) -> str:
        """The recipient, without the secret path of a chat webhook URL (it is a credential)."""
        if self.channel == self.Channel.CHAT:
            scheme, _sep, rest = self.recipient.partition("://")
            return f"{scheme}://{rest.split('/', 1)[0]}/…"
        return self.recipient
