"""Settings of a beat that sweeps the webhook inbox every 2 s instead of 30 s (and sends nothing else).

For the outage test only: a real `celery beat` process, so that the backlog is applied after Redis
returns with nobody publishing anything, without waiting half a minute per outage.
"""

from config.settings import *  # noqa: F403
from config.settings import CELERY_BEAT_SCHEDULE

CELERY_BEAT_SCHEDULE = {
    "webhook-drain": {**CELERY_BEAT_SCHEDULE["webhook-drain"], "schedule": 2.0, "options": {"expires": 2}},
}
