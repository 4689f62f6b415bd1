"""The Celery application: broker and schedule come from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import task_success

from config import health, redis_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Before any broker connection: redis:// channels that survive an outage (see config/redis_broker.py).
redis_broker.register()

app = Celery("opskaizen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each successful ritual tick leaves a heartbeat that /healthz/ shows (config/health.py).
task_success.connect(health.record_tick, weak=False, dispatch_uid="opskaizen.tick_heartbeat")
