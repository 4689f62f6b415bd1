"""URL map: web UI, admin, REST API (/api/v1/) and its documentation."""

import os

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, views
from teams import views_audit

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", health.healthz, name="healthz"),
    # Metrics API (issue 4): keep before any other api/v1/ include.
    path("api/v1/metrics/", include("improvement.metrics_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    # REST API and webhooks (issue 3)
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Split view: the init script is a separate file, so the CSP (no inline script) holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("hooks/", include("teams.webhooks.urls")),
    path("t/<slug:team_slug>/settings/", include("teams.urls_settings")),
    path("calendar/", include("improvement.calendar_urls")),  # rituals (issue 5): iCal feeds
    path("t/<slug:team_slug>/audit/", views_audit.audit_log, name="audit_log"),
    path("", views.home, name="home"),
    # Web UI (issue 6): language switch, and the team pages under /t/<team_slug>/.
    path("i18n/", include("django.conf.urls.i18n")),
    path("t/<slug:team_slug>/", include("teams.urls")),
    path("t/<slug:team_slug>/", include("incidents.urls")),
    path("t/<slug:team_slug>/", include("improvement.urls")),
]

# Benchmarks (issue 7): the ingest benchmark's baseline view, mounted only for bench/ingest_bench.py's own server.
if os.environ.get("OPSKAIZEN_BENCH_BASELINE") == "1":  # pragma: no cover - never set outside bench/
    urlpatterns.insert(0, path("bench-baseline/", include("bench.baseline_urls")))
