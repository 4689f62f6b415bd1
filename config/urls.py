"""URL map: web UI, admin, REST API (/api/v1/) and its documentation."""

from django.contrib import admin
from django.urls import include, path

from config import views
from teams import views_audit

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", views.healthz, name="healthz"),
    # Metrics API (issue 4): keep before any other api/v1/ include.
    path("api/v1/metrics/", include("improvement.metrics_urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("calendar/", include("improvement.calendar_urls")),  # rituals (issue 5): iCal feeds
    path("t/<slug:team_slug>/audit/", views_audit.audit_log, name="audit_log"),
    path("", views.home, name="home"),
    # Web UI (issue 6): language switch, and the team pages under /t/<team_slug>/.
    path("i18n/", include("django.conf.urls.i18n")),
    path("t/<slug:team_slug>/", include("teams.urls")),
    path("t/<slug:team_slug>/", include("incidents.urls")),
    path("t/<slug:team_slug>/", include("improvement.urls")),
]
