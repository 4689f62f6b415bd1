"""Reactions of the improvement app to events of other apps; each only calls a service."""

import logging

from django.dispatch import receiver

from improvement import recurrence
from incidents.signals import factor_recorded, incident_logged, incidents_logged

logger = logging.getLogger(__name__)


@receiver(incident_logged, dispatch_uid="improvement_recurrence_on_incident_logged")
def reopen_standardised_actions(sender, incident, **kwargs):
    # Runs after the incident committed: a failure here must not turn logging an incident into an error.
    try:
        # One cheap read first: most incidents hit no standardised action, and then there is no
        # transaction to open (the ingest benchmark counts every round trip of an upsert).
        # A new incident has no contributing factors yet; with no service, no problem and no
        # fingerprint either, nothing can match, and no queryset is even built.
        if not recurrence.may_hit_a_target(incident, factors=False):
            return
        if recurrence.matching_standardised_actions(incident, factors=False).exists():
            recurrence.record_recurrence(incident=incident)
    except Exception:
        logger.exception("Recurrence check failed for incident %s", incident.pk)


@receiver(incidents_logged, dispatch_uid="improvement_recurrence_on_incidents_logged")
def reopen_standardised_actions_for_batch(sender, team, incidents, **kwargs):
    """A batch (an import): one read of the team's standardised targets, then only the incidents that hit one."""
    try:
        candidates = recurrence.may_recur(team.pk, incidents)
    except Exception:
        logger.exception("Recurrence check failed for a batch of %s incidents", len(incidents))
        return
    for incident in candidates:
        try:
            recurrence.record_recurrence(incident=incident)
        except Exception:
            logger.exception("Recurrence check failed for incident %s", incident.pk)


@receiver(factor_recorded, dispatch_uid="improvement_recurrence_on_factor_recorded")
def reopen_on_factor(sender, factor, **kwargs):
    """A factor recorded in a postmortem can hit a standardised action aimed at its category."""
    try:
        incident = factor.postmortem.incident
        if recurrence.matching_standardised_actions(incident).exists():
            recurrence.record_recurrence(incident=incident)
    except Exception:
        logger.exception("Recurrence check failed for contributing factor %s", factor.pk)
