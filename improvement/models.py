"""Improvement actions (one PDCA cycle each), their stage history and their checks."""

import logging

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.audit import TeamAudited
from incidents.models import Change, ContributingFactor, FactorCategory, Incident, Postmortem, Problem
from teams.models import Service, Team

logger = logging.getLogger(__name__)


class Stage(models.TextChoices):
    PLAN = "plan", _("Plan")
    DO = "do", _("Do")
    CHECK = "check", _("Check")
    ACT = "act", _("Act")
    DONE = "done", _("Done")
    ABANDONED = "abandoned", _("Abandoned")
    # A cycle opened by a recurrence a member then marked "not a recurrence": closed, never counted as abandoned.
    WITHDRAWN = "withdrawn", _("Withdrawn")


# The longest observation window, extensions included.
MAX_WINDOW_DAYS = 365

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
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_DAYS)],
        help_text=_("How long after entering Do the effect is observed; the baseline is the same length before."),
    )

    incidents = models.ManyToManyField(Incident, blank=True, related_name="actions")
    postmortems = models.ManyToManyField(Postmortem, blank=True, related_name="actions")
    problems = models.ManyToManyField(Problem, blank=True, related_name="actions")
    changes = models.ManyToManyField(Change, blank=True, related_name="actions")
    # The contributing factor this action answers (one of its postmortems'): shown on both pages.
    addresses_factor = models.ForeignKey(
        ContributingFactor,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="actions",
        verbose_name=_("addresses factor"),
    )

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
    recurrences = models.ManyToManyField(
        Incident,
        blank=True,
        related_name="recurred_actions",
        through="Recurrence",
        through_fields=("action", "incident"),
    )

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


class Recurrence(models.Model):
    """An incident that brought a standardised action's problem back, with why; a member may undo the link.

    The table is the one the plain many-to-many link had (improvement_action_recurrences).
    """

    class Match(models.TextChoices):
        EXACT = "exact", _("same cause")
        RATE = "rate", _("rate back at its baseline")

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="recurrence_links")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="recurrence_links")
    match = models.CharField(_("match"), max_length=8, choices=Match.choices, blank=True)
    reason = models.CharField(_("why"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("linked at"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("marked not a recurrence at"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismiss_reason = models.TextField(_("why it is not a recurrence"), blank=True)

    class Meta:
        db_table = "improvement_action_recurrences"
        constraints = [models.UniqueConstraint(fields=["action", "incident"], name="recurrence_once_per_incident")]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.action_id}"


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
    """The measured effect of an action: baseline vs observed, and the verdict.

    `evidence` says where the numbers come from: measured by the product when the window and its
    grace period ended, or self-reported (a target kept outside OpsKaizen, with its source). A verdict
    other than the computed one, or a Check left before it was measured, is a lead's override.
    """

    class Evidence(models.TextChoices):
        COMPUTED = "computed", _("measured by OpsKaizen")
        SELF_REPORTED = "self_reported", _("self-reported")

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
    test = models.CharField(
        _("test"), max_length=14, blank=True, help_text=_("comparison, before_after, mann_whitney or fisher")
    )
    comparison_baseline_count = models.PositiveIntegerField(_("rest of the team, before"), null=True, blank=True)
    comparison_observed_count = models.PositiveIntegerField(_("rest of the team, after"), null=True, blank=True)
    effect = models.FloatField(
        _("effect"), null=True, blank=True, help_text=_("Rate ratio or odds ratio (after ÷ before).")
    )
    ci_low = models.FloatField(_("confidence bound, low"), null=True, blank=True)
    ci_high = models.FloatField(_("confidence bound, high"), null=True, blank=True)
    excluded_incidents = models.PositiveIntegerField(
        _("origin incidents left out"), null=True, blank=True, help_text=_("The incidents that created the action.")
    )
    computed_verdict = models.CharField(_("computed verdict"), max_length=14, choices=Verdict.choices, blank=True)
    verdict = models.CharField(_("verdict"), max_length=14, choices=Verdict.choices, blank=True)
    overridden = models.BooleanField(default=False)
    note = models.TextField(_("note"), blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    evidence = models.CharField(_("evidence"), max_length=14, choices=Evidence.choices, blank=True)
    data_as_of = models.DateTimeField(_("data as of"), null=True, blank=True)
    self_reported_source = models.CharField(
        _("source of the values"), max_length=300, blank=True, help_text=_("Where self-reported values come from.")
    )
    previous_computed_verdict = models.CharField(max_length=14, choices=Verdict.choices, blank=True)
    result_changed_at = models.DateTimeField(
        _("result changed at"), null=True, blank=True, help_text=_("A later measurement changed the computed verdict.")
    )
    overridden_at = models.DateTimeField(_("overridden at"), null=True, blank=True)
    extensions = models.JSONField(_("window extensions"), default=list, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Check of {self.action_id}: {self.verdict or self.computed_verdict or 'pending'}"

    @property
    def verified(self) -> bool:
        """Verified effective: measured by the product, effective, and not overridden."""
        return self.evidence == self.Evidence.COMPUTED and not self.overridden and self.verdict == Verdict.EFFECTIVE


class ProblemMerge(TeamAudited, models.Model):
    """Two problems made one: what moved from `source` to `target`, kept so a lead can undo it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="merges_out")
    target = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="merges_in")
    source_status = models.CharField(max_length=20, choices=Problem.Status.choices)
    incident_ids = models.JSONField(default=list, blank=True)
    # Actions linked to the source only (the link moves), to both (the source link goes), aimed at it.
    linked_action_ids = models.JSONField(default=list, blank=True)
    shared_action_ids = models.JSONField(default=list, blank=True)
    targeted_action_ids = models.JSONField(default=list, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(_("merged at"))
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source_id} → {self.target_id}"
