"""What reporting stores: the targets a lead sets on the weekly figures (everything else it only reads)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from teams.models import Team


class Target(models.Model):
    """A team's target on one weekly series (reporting.metrics.series.SERIES), in that series' unit."""

    class Bound(models.TextChoices):
        BELOW = "below", _("at most")
        ABOVE = "above", _("at least")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="metric_targets")
    metric = models.CharField(_("figure"), max_length=60)
    bound = models.CharField(_("the figure should be"), max_length=5, choices=Bound.choices, default=Bound.BELOW)
    value = models.FloatField(_("target"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "metric"], name="reporting_target_one_per_metric"),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="reporting_target_not_negative"),
        ]
        ordering = ["metric"]

    def __str__(self) -> str:
        return f"{self.metric} {self.bound} {self.value}"
