"""URL map: web UI, admin, REST API (/api/v1/) and its documentation."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    # REST API and webhooks (issue 3)
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("hooks/", include("teams.webhooks.urls")),
    path("t/<slug:team_slug>/settings/", include("teams.urls_settings")),
    path("", views.home, name="home"),
]
