"""Incidents and what the team learns from them: problems, postmortems, changes."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.audit import TeamAudited
from teams.models import Service, Team


class Severity(models.TextChoices):
    SEV1 = "SEV1", _("SEV1 — critical")
    SEV2 = "SEV2", _("SEV2 — major")
    SEV3 = "SEV3", _("SEV3 — minor")
    SEV4 = "SEV4", _("SEV4 — low")


class FactorCategory(models.TextChoices):
    """Fixed taxonomy so that contributing factors can be counted across incidents."""

    CHANGE = "change", _("change")
    CAPACITY = "capacity", _("capacity")
    DEPENDENCY = "dependency", _("dependency")
    DETECTION = "detection", _("detection")
    PROCESS = "process", _("process")
    HUMAN_FACTORS = "human_factors", _("human factors")
    UNKNOWN = "unknown", _("unknown")


def _not_before(later: str, earlier: str) -> Q:
    """A nullable timestamp is either unset or not before another one."""
    return Q(**{f"{later}__isnull": True}) | Q(**{f"{earlier}__isnull": True}) | Q(**{f"{later}__gte": F(earlier)})


class Problem(TeamAudited, models.Model):
    """A recurring cause shared by several incidents."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        KNOWN_ERROR = "known_error", _("known error")
        RESOLVED = "resolved", _("resolved")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="problems")
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="problems")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    workaround = models.TextField(
        _("known workaround"), blank=True, help_text=_("What restores service while the cause is not fixed.")
    )
    # A problem merged into another one keeps its row (so the merge can be undone) and leaves the lists.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_problems",
        verbose_name=_("merged into"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Change(models.Model):
    """A deployment or change record: the input of lead time and change failure rate."""

    class Kind(models.TextChoices):
        STANDARD = "standard", _("standard (pre-approved)")
        NORMAL = "normal", _("normal")
        EMERGENCY = "emergency", _("emergency")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="changes")
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NORMAL)
    committed_at = models.DateTimeField(_("committed at"), null=True, blank=True)
    deployed_at = models.DateTimeField(_("deployed at"), null=True, blank=True)
    failed = models.BooleanField(_("failed"), default=False, help_text=_("The change degraded service."))
    source = models.CharField(_("source"), max_length=40, default="manual")
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-deployed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "source", "external_id"],
                condition=~Q(external_id=""),
                name="change_unique_team_source_external_id",
            ),
            models.CheckConstraint(
                condition=_not_before("deployed_at", "committed_at"), name="change_deploy_after_commit"
            ),
        ]
        indexes = [models.Index(fields=["team", "deployed_at"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.committed_at and self.deployed_at and self.deployed_at < self.committed_at:
            raise ValidationError({"deployed_at": _("A change cannot be deployed before it was committed.")})


class Incident(TeamAudited, models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        MITIGATED = "mitigated", _("mitigated")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")

    # (later, earlier): each timestamp may be unset, none may come before the
    # one it follows. Acknowledgement and mitigation are independent of each
    # other (an automatic mitigation may precede the human acknowledgement).
    # The same rules are CheckConstraints below.
    ORDER_RULES = (
        ("detected_at", "started_at"),
        ("acknowledged_at", "detected_at"),
        ("mitigated_at", "detected_at"),
        ("resolved_at", "mitigated_at"),
        ("resolved_at", "detected_at"),
    )
    # The timestamp a status requires.
    STATUS_REQUIRES = {
        Status.MITIGATED: "mitigated_at",
        Status.RESOLVED: "resolved_at",
        Status.CLOSED: "resolved_at",
    }

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="incidents")
    service = models.ForeignKey(Service, on_delete=models.RESTRICT, null=True, blank=True, related_name="incidents")
    problem = models.ForeignKey(Problem, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents")
    caused_by_change = models.ForeignKey(
        Change,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="caused_incidents",
        verbose_name=_("caused by change"),
    )
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    severity = models.CharField(_("severity"), max_length=4, choices=Severity.choices, default=Severity.SEV3)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField(_("started at"))
    detected_at = models.DateTimeField(_("detected at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    mitigated_at = models.DateTimeField(_("mitigated at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=40, default="manual")
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    url = models.URLField(_("link"), max_length=500, blank=True)
    # What the alerting source calls the alert (Alertmanager's label fingerprint, an Opsgenie alias):
    # the same value on every firing of the same alert, so a recurrence can be matched on it.
    fingerprint = models.CharField(
        _("alert fingerprint"),
        max_length=200,
        blank=True,
        help_text=_("The alerting source's identity of the alert; the same on every firing."),
    )
    # When the source says the last change applied from it happened (an event's own time, not
    # its arrival): an older delivery, late or out of order, then only fills unset fields.
    source_event_at = models.DateTimeField(
        _("last source event at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("The source's time of the newest event applied; older deliveries no longer overwrite."),
    )
    # Per field, the source's time of the event that last set it ({"title": "<ISO 8601>", …}): an
    # older event leaves that field alone (incidents.ordering). On the row itself, so the rule costs
    # no query on the intake path.
    field_event_at = models.JSONField(
        _("source event time per field"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_("For each field, the source's time of the event that last set it."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "source", "external_id"],
                condition=~Q(external_id=""),
                name="incident_unique_team_source_external_id",
            ),
            models.CheckConstraint(condition=Q(detected_at__gte=F("started_at")), name="incident_detected_after_start"),
            models.CheckConstraint(
                condition=_not_before("acknowledged_at", "detected_at"), name="incident_ack_after_detection"
            ),
            models.CheckConstraint(
                condition=_not_before("mitigated_at", "detected_at"), name="incident_mitigated_after_detection"
            ),
            models.CheckConstraint(
                condition=_not_before("resolved_at", "mitigated_at"), name="incident_resolved_after_mitigation"
            ),
            models.CheckConstraint(
                condition=_not_before("resolved_at", "detected_at"), name="incident_resolved_after_detection"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "started_at"]),
            models.Index(fields=["service", "started_at"]),
            # The repeat-incident rate: an earlier incident of the same problem within N days, per incident.
            models.Index(fields=["problem", "started_at"], name="incident_problem_started"),
            # Earlier firings of the same alert (recurrence; Alertmanager's per-group incidents).
            models.Index(fields=["team", "fingerprint"], condition=~Q(fingerprint=""), name="incident_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.title}"

    def clean(self) -> None:
        """Timestamps in order, and every status backed by the timestamp it implies."""
        errors: dict[str, str] = {}
        for later, earlier in self.ORDER_RULES:
            later_value, earlier_value = getattr(self, later), getattr(self, earlier)
            if later_value and earlier_value and later_value < earlier_value and later not in errors:
                errors[later] = _("%(field)s cannot be before %(previous)s.") % {
                    "field": self._meta.get_field(later).verbose_name,
                    "previous": self._meta.get_field(earlier).verbose_name,
                }
        required = self.STATUS_REQUIRES.get(self.status)
        if required and getattr(self, required) is None and required not in errors:
            errors[required] = _("An incident with status “%(status)s” needs this timestamp.") % {
                "status": self.get_status_display()
            }
        if errors:
            raise ValidationError(errors)

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class TimelineEvent(TeamAudited, models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", _("note")
        DETECTION = "detection", _("detection")
        ESCALATION = "escalation", _("escalation")
        ACTION = "action", _("action taken")
        STATUS = "status", _("status change")
        COMMUNICATION = "communication", _("communication")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(_("occurred at"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField(_("text"))
    # What the system recorded, as data rendered in the reader's language ({"status": [old, new]}),
    # instead of an English sentence in `text`.
    data = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.text[:40]}"

    # Rows written before `data` existed hold the English sentence: still read in the reader's language.
    OLD_STATUS_TEXT = re.compile(r"^Status changed from (\w+) to (\w+)\.$")

    @property
    def display_text(self) -> str:
        """The entry as the reader reads it: a system entry rendered from its data, in their language."""
        change = self.data.get("status") if self.data else None
        if change is None and self.kind == self.Kind.STATUS and (match := self.OLD_STATUS_TEXT.match(self.text)):
            change = list(match.groups())
        if change:
            labels = dict(Incident.Status.choices)
            old, new = (labels.get(value, value) for value in change)
            return gettext("Status changed from %(old)s to %(new)s.") % {"old": old, "new": new}
        return self.text


class Postmortem(TeamAudited, models.Model):
    """The blameless review of one incident."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        IN_REVIEW = "in_review", _("in review")
        PUBLISHED = "published", _("published")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="postmortems")
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    summary = models.TextField(_("summary"), blank=True)
    impact = models.TextField(_("impact"), blank=True)
    what_went_well = models.TextField(_("what went well"), blank=True)
    what_went_badly = models.TextField(_("what went badly"), blank=True)
    where_we_got_lucky = models.TextField(_("where we got lucky"), blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    # Publishing is reviewed by someone other than the author: a lead, or the member named here.
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewer"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A team of one has nobody else to review: its author publishes, and that is recorded.
    self_reviewed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Postmortem: {self.incident.title}"


class ContributingFactor(TeamAudited, models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="factors")
    category = models.CharField(_("category"), max_length=20, choices=FactorCategory.choices)
    description = models.TextField(_("description"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.description[:40]}"
