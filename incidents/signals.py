"""Domain events on incidents, fired after the transaction commits."""

from django.dispatch import Signal

# Sent after an incident was created (by any path: UI, API, webhook). kwargs: incident (Incident).
incident_logged = Signal()

# Sent after a batch of incidents was created at once (incidents.bulk: an import). kwargs: team, incidents.
incidents_logged = Signal()

# Sent after a contributing factor was recorded in a postmortem. kwargs: factor (ContributingFactor).
factor_recorded = Signal()
