"""Improvement actions (one PDCA cycle each), their stage history and checks, and the rituals."""

import hashlib
import logging
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from incidents.models import Change, FactorCategory, Incident, Postmortem, Problem
from teams.audit import TeamAudited
from teams.egress import validate_outgoing_url
from teams.models import Service, Team, validate_timezone

logger = logging.getLogger(__name__)


class Stage(models.TextChoices):
    PLAN = "plan", _("Plan")
    DO = "do", _("Do")
    CHECK = "check", _("Check")
    ACT = "act", _("Act")
    DONE = "done", _("Done")
    ABANDONED = "abandoned", _("Abandoned")


OPEN_STAGES = (Stage.PLAN, Stage.DO, Stage.CHECK, Stage.ACT)


class Verdict(models.TextChoices):
    EFFECTIVE = "effective", _("effective")
    NOT_EFFECTIVE = "not_effective", _("not effective")
    INCONCLUSIVE = "inconclusive", _("inconclusive")


class Action(TeamAudited, models.Model):
    """One PDCA cycle: a hypothesis, a target, and the evidence that it worked."""

    class Kind(models.TextChoices):
        CORRECTIVE = "corrective", _("corrective")
        PREVENTIVE = "preventive", _("preventive")
        DETECTIVE = "detective", _("detective")

    class Origin(models.TextChoices):
        INCIDENT = "incident", _("incident")
        POSTMORTEM = "postmortem", _("postmortem")
        REVIEW_BOARD = "review_board", _("review board")
        SUGGESTION = "suggestion", _("suggestion")
        RECURRENCE = "recurrence", _("recurrence")

    class TargetKind(models.TextChoices):
        SERVICE = "service", _("incidents on a service")
        PROBLEM = "problem", _("incidents of a problem")
        FACTOR_CATEGORY = "factor_category", _("incidents with a contributing-factor category")
        METRIC = "metric", _("a metric")

    class Direction(models.TextChoices):
        DECREASE = "decrease", _("decrease")
        INCREASE = "increase", _("increase")

    class Decision(models.TextChoices):
        STANDARDISE = "standardise", _("standardise")
        ADJUST = "adjust", _("adjust (run another cycle)")
        ABANDON = "abandon", _("abandon")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(_("title"), max_length=200)
    problem_statement = models.TextField(_("problem statement"), blank=True)
    hypothesis = models.TextField(
        _("hypothesis"), blank=True, help_text=_("If we do X, we expect Y to change, because Z.")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CORRECTIVE)
    origin = models.CharField(_("origin"), max_length=14, choices=Origin.choices, default=Origin.INCIDENT)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.PLAN, db_index=True)
    stage_entered_at = models.DateTimeField(_("in this stage since"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_actions",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)

    # The target: which incidents it should prevent, or which metric it should move.
    target_kind = models.CharField(_("target"), max_length=16, choices=TargetKind.choices, blank=True)
    target_service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("target service")
    )
    target_problem = models.ForeignKey(
        Problem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("target problem")
    )
    target_factor_category = models.CharField(
        _("target factor category"), max_length=20, choices=FactorCategory.choices, blank=True
    )
    target_metric = models.CharField(_("target metric"), max_length=60, blank=True)
    target_direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, blank=True)
    check_window_days = models.PositiveSmallIntegerField(
        _("observation window (days)"),
        default=28,
        help_text=_("How long after entering Do the effect is observed; the baseline is the same length before."),
    )

    incidents = models.ManyToManyField(Incident, blank=True, related_name="actions")
    postmortems = models.ManyToManyField(Postmortem, blank=True, related_name="actions")
    problems = models.ManyToManyField(Problem, blank=True, related_name="actions")
    changes = models.ManyToManyField(Change, blank=True, related_name="actions")

    external_ticket = models.CharField(
        _("external ticket"), max_length=500, blank=True, help_text=_("Jira key, GitHub issue URL…")
    )
    source = models.CharField(_("source"), max_length=40, default="manual")
    external_id = models.CharField(_("external id"), max_length=200, blank=True)

    decision = models.CharField(_("decision"), max_length=12, choices=Decision.choices, blank=True)
    abandon_reason = models.TextField(_("reason for abandoning"), blank=True)
    previous_cycle = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="next_cycle",
        verbose_name=_("previous cycle"),
    )
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    recurred_at = models.DateTimeField(_("recurred at"), null=True, blank=True)
    recurrences = models.ManyToManyField(Incident, blank=True, related_name="recurred_actions")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "source", "external_id"],
                condition=~Q(external_id=""),
                name="action_unique_team_source_external_id",
            ),
        ]
        indexes = [models.Index(fields=["team", "stage"]), models.Index(fields=["team", "due_date"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class StageTransition(models.Model):
    """One move of an action: flow metrics are computed from these rows only."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=10, choices=Stage.choices)
    at = models.DateTimeField(db_index=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.TextField(blank=True)
    via = models.CharField(max_length=20, default="ui", help_text=_("ui, api, webhook, review_board, system"))

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["team", "to_stage", "at"])]

    def __str__(self) -> str:
        return f"{self.action_id}: {self.from_stage or '∅'} → {self.to_stage}"


class Check(TeamAudited, models.Model):
    """The measured effect of an action: baseline vs observed, and the verdict."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    action = models.OneToOneField(Action, on_delete=models.CASCADE, related_name="check_result")
    metric = models.CharField(_("what was measured"), max_length=60, blank=True)
    baseline_start = models.DateTimeField(null=True, blank=True)
    baseline_end = models.DateTimeField(null=True, blank=True)
    observed_start = models.DateTimeField(null=True, blank=True)
    observed_end = models.DateTimeField(null=True, blank=True)
    baseline_value = models.FloatField(_("baseline"), null=True, blank=True)
    observed_value = models.FloatField(_("observed"), null=True, blank=True)
    baseline_count = models.PositiveIntegerField(null=True, blank=True)
    observed_count = models.PositiveIntegerField(null=True, blank=True)
    method = models.TextField(_("method"), blank=True)
    p_value = models.FloatField(_("p-value"), null=True, blank=True)
    computed_verdict = models.CharField(_("computed verdict"), max_length=14, choices=Verdict.choices, blank=True)
    verdict = models.CharField(_("verdict"), max_length=14, choices=Verdict.choices, blank=True)
    overridden = models.BooleanField(default=False)
    note = models.TextField(_("note"), blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Check of {self.action_id}: {self.verdict or self.computed_verdict or 'pending'}"


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
    # --- rituals (issue 5) ---
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
        ordering = ["team__name", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.refresh_next_occurrence() and kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "next_occurrence", "schedule_key"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from improvement import rituals

        super().clean()
        if not self.rrule.strip() and (self.weekday is None or self.time_of_day is None):
            raise ValidationError({"weekday": _("Give a weekday and a time, or an RRULE.")})
        if self.rrule.strip():
            error = rituals.rrule_error(self.rrule)
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

        from improvement import rituals

        key = self.current_schedule_key()
        if self.next_occurrence is not None and self.schedule_key == key:
            return False
        now = now or djtz.now()
        try:
            self.next_occurrence = rituals.next_occurrence(self, after=now) if self.active else None
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
        ordering = ["-occurrence", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ritual", "occurrence"], name="review_session_unique_ritual_occurrence")
        ]

    def __str__(self) -> str:
        return f"{self.ritual} — {self.occurrence:%Y-%m-%d %H:%M}"


# --- review board (issue 6) ------------------------------------------------------------------
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
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "item_id"])]

    def __str__(self) -> str:
        return f"{self.session_id} {self.item_id}: {self.kind}"


# --- rituals (issue 5): feeds and the notification log ---------------------------------------


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


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
