"""Writes on a postmortem's contributing factors: add, correct, remove, until it is published.

Factors are audited (ContributingFactor is registered with the audit log, tagged with the team).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from incidents import signals
from incidents.models import ContributingFactor, Postmortem

FACTOR_FIELDS = {"category", "description"}


def _editable(postmortem: Postmortem) -> None:
    if postmortem.status == Postmortem.Status.PUBLISHED:
        raise ValidationError({"status": _("A published postmortem can no longer be edited.")})


def _recorded(factor: ContributingFactor) -> None:
    # A factor's category can match a standardised action aimed at it (a recurrence): say so after commit.
    transaction.on_commit(lambda: signals.factor_recorded.send(sender=ContributingFactor, factor=factor))


@transaction.atomic
def add_contributing_factor(*, postmortem: Postmortem, category: str, description: str) -> ContributingFactor:
    """Record a contributing factor under one category of the fixed taxonomy."""
    _editable(postmortem)
    factor = ContributingFactor(team=postmortem.team, postmortem=postmortem, category=category, description=description)
    factor.full_clean()
    factor.save()
    _recorded(factor)
    return factor


def _locked(factor: ContributingFactor) -> ContributingFactor:
    factor = ContributingFactor.objects.select_for_update().select_related("postmortem").get(pk=factor.pk)
    _editable(factor.postmortem)
    return factor


@transaction.atomic
def update_contributing_factor(*, factor: ContributingFactor, **fields) -> ContributingFactor:
    """Correct a factor's category or description while its postmortem is not published."""
    unknown = set(fields) - FACTOR_FIELDS
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    factor = _locked(factor)
    recategorised = "category" in fields and fields["category"] != factor.category
    for name, value in fields.items():
        setattr(factor, name, value)
    factor.full_clean()
    factor.save()
    if recategorised:
        _recorded(factor)
    return factor


@transaction.atomic
def delete_contributing_factor(*, factor: ContributingFactor) -> None:
    """Remove a factor while its postmortem is not published; an action that addressed it keeps going, unlinked."""
    _locked(factor).delete()
