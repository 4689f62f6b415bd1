"""URL map: web UI, admin, REST API (/api/v1/) and its documentation."""

from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz/", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("calendar/", include("improvement.calendar_urls")),  # rituals (issue 5): iCal feeds
    path("", views.home, name="home"),
]
