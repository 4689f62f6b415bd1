"""The one write reporting does: a lead's targets on the weekly figures."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from reporting.metrics.series import SERIES
from reporting.models import Target


def set_target(*, team, metric: str, value: float, bound: str = Target.Bound.BELOW, user=None) -> Target:
    """Create or replace the team's target on `metric` (a weekly series key, value in its unit; at most by default)."""
    errors = {}
    if metric not in SERIES:
        errors["metric"] = [_("Unknown figure: %(key)s.") % {"key": metric}]
    if bound not in Target.Bound.values:
        errors["bound"] = [_("Choose at most or at least.")]
    if value is None or value < 0:
        errors["value"] = [_("A target cannot be negative.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        target, _created = Target.objects.update_or_create(
            team=team, metric=metric, defaults={"bound": bound, "value": value, "created_by": user}
        )
    return target


def delete_target(*, target: Target) -> None:
    target.delete()
