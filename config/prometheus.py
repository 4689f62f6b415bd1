"""OpsKaizen in Prometheus: GET /metrics in the text exposition format (docs/operations.md).

- Request latency by view: a histogram filled by ``RequestLatencyMiddleware`` in every web
  process. Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes prometheus-client keep each worker's
  values in files there, and this view adds them up (deploy/gunicorn.conf.py clears the folder
  at start and marks a finished worker's files dead).
- The product's health, read from the database and the cache at each scrape (no worker process
  needs to be reachable): the webhook inbox's depth and oldest queued delivery, the outbox backlog,
  failed background work, the ritual tick's lag.
- The teams' key figures as labelled gauges (reporting.exposition, cached between scrapes).

Protected by one instance-wide credential, METRICS_SCRAPE_TOKEN, sent as ``Authorization: Bearer``:
without the setting /metrics answers 404 (not exposed), with a wrong or missing credential 403.
A team's API token is no scrape credential: the gauges cover every team.
"""

import hmac
import os
import time

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from config import health

REQUEST_LATENCY = Histogram(
    "opskaizen_http_request_duration_seconds",
    "Time to answer a web request, by view (the URL pattern's name) and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestLatencyMiddleware:
    """Times every request; the view label is the URL name (bounded), never the path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        REQUEST_LATENCY.labels(view=view, method=request.method).observe(time.perf_counter() - started)
        return response


QUEUE_HELP = {
    "webhook_inbox": ("opskaizen_webhook_inbox_queued", "Webhook deliveries accepted and not applied yet."),
    "outbox": ("opskaizen_outbox_pending", "Outgoing webhook deliveries not sent yet."),
}


def _backlog(queryset, since: str, queue: str):
    """A queue's depth and the wait of its oldest row (0 when none waits): one query."""
    row = queryset.aggregate(depth=Count("id"), oldest=Min(since))
    oldest = row["oldest"]
    name, text = QUEUE_HELP[queue]
    yield GaugeMetricFamily(name, text, row["depth"])
    age = 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
    yield GaugeMetricFamily(
        f"opskaizen_{queue}_oldest_age_seconds", "How long the oldest of them has waited (0 when none waits).", age
    )


class HealthCollector:
    """What the database and the cache say about the background work, read at each scrape."""

    def collect(self):
        from imports.models import ImportRun
        from integrations.models import OutgoingDelivery, WebhookDelivery
        from rituals.models import Notification

        queues = [
            (WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.QUEUED), "received_at", "webhook_inbox"),
            (OutgoingDelivery.objects.filter(status=OutgoingDelivery.Status.PENDING), "created_at", "outbox"),
        ]
        for queryset, since, name in queues:
            yield from _backlog(queryset, since, name)
        failures = GaugeMetricFamily(
            "opskaizen_task_failures",
            "Background work recorded as failed in the database, by kind (rows kept, not a rate).",
            labels=["kind"],
        )
        failures.add_metric(["outbox"], OutgoingDelivery.objects.filter(status=OutgoingDelivery.Status.FAILED).count())
        failures.add_metric(["notification"], Notification.objects.filter(status=Notification.Status.FAILED).count())
        failures.add_metric(["webhook"], WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.FAILED).count())
        failures.add_metric(["import"], ImportRun.objects.filter(state=ImportRun.State.FAILED).count())
        yield failures
        tick = health.tick()
        if tick["age_seconds"] is not None:
            yield GaugeMetricFamily(
                "opskaizen_tick_lag_seconds",
                "Seconds since the ritual tick last succeeded on a worker (beat sends it every minute).",
                tick["age_seconds"],
            )


class TeamFiguresCollector:
    """Each team's key figures (the dashboard's, over its default period), cached between scrapes."""

    GAUGES = (
        ("time_to_restore_p90", "opskaizen_team_time_to_restore_p90_seconds", "Time to restore, p90 (seconds)."),
        ("change_failure_rate", "opskaizen_team_change_failure_rate", "Change failure rate (0 to 1)."),
        ("open_actions", "opskaizen_team_open_actions", "Actions in Plan, Do, Check or Act now."),
        ("incidents", "opskaizen_team_incidents", "Incidents started in the period."),
    )

    def collect(self):
        from reporting.exposition import team_figures

        rows = team_figures()
        for key, name, text in self.GAUGES:
            gauge = GaugeMetricFamily(name, f"{text} Over the team's last 26 complete weeks.", labels=["team"])
            for row in rows:
                if row[key] is not None:
                    gauge.add_metric([row["team"]], row[key])
            yield gauge


def _database_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector())
    registry.register(TeamFiguresCollector())
    return registry


def _process_registry():
    """Every web process's request histogram: summed from the files under multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def scrape_allowed(request) -> bool:
    expected = settings.METRICS_SCRAPE_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _space, credential = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), expected.encode())


@never_cache
@require_GET
def metrics_view(request):
    if not settings.METRICS_SCRAPE_TOKEN:
        raise Http404  # not exposed on this instance
    if not scrape_allowed(request):
        return HttpResponseForbidden("A scrape credential is needed (METRICS_SCRAPE_TOKEN).\n")
    body = generate_latest(_process_registry()) + generate_latest(_database_registry())
    # The 0.0.4 text format: what Prometheus 2.x (Debian's 2.42 included) negotiates by default.
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
