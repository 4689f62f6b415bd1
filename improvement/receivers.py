"""Reactions of the improvement app to events of other apps; each only calls a service."""

from django.dispatch import receiver

from improvement import recurrence
from incidents.signals import incident_logged


@receiver(incident_logged, dispatch_uid="improvement_recurrence_on_incident_logged")
def reopen_standardised_actions(sender, incident, **kwargs):
    recurrence.record_recurrence(incident=incident)
