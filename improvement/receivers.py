"""Reactions of the improvement app to events of other apps; each only calls a service."""

import logging

from django.dispatch import receiver

from improvement import recurrence
from incidents.signals import incident_logged

logger = logging.getLogger(__name__)


@receiver(incident_logged, dispatch_uid="improvement_recurrence_on_incident_logged")
def reopen_standardised_actions(sender, incident, **kwargs):
    # Runs after the incident committed: a failure here must not turn logging an incident into an error.
    try:
        # One cheap read first: most incidents hit no standardised action, and then there is no
        # transaction to open (the ingest benchmark counts every round trip of an upsert).
        if recurrence.matching_standardised_actions(incident).exists():
            recurrence.record_recurrence(incident=incident)
    except Exception:
        logger.exception("Recurrence check failed for incident %s", incident.pk)
