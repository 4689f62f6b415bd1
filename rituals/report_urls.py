"""The monthly operations report across teams under /reports/ (included from config/urls.py)."""

from django.urls import path

from rituals.views import report as views_report

app_name = "monthly"
urlpatterns = [
    path("monthly/", views_report.teams_report, name="teams"),
    path("monthly.pdf", views_report.teams_report, name="teams_pdf"),
]
