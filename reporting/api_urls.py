"""/api/v1/metrics/… (included from config/urls.py)."""

from django.urls import path

from reporting import api

app_name = "metrics_api"

urlpatterns = [
    path("", api.FiguresView.as_view(), name="figures"),
    path("weekly/", api.WeeklyView.as_view(), name="weekly"),
    path("signals/", api.SignalsView.as_view(), name="signals"),
    path("rows/", api.FigureRowsView.as_view(), name="rows"),
]
