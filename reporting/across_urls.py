"""Pages across teams under /reports/ (included from config/urls.py)."""

from django.urls import path

from reporting import managers

app_name = "reports"
urlpatterns = [
    path("teams/", managers.managers, name="teams"),
]
