"""/api/v1/metrics/… (included from config/urls.py)."""

from django.urls import path

from improvement import metrics_api

app_name = "metrics_api"

urlpatterns = [
    path("", metrics_api.FiguresView.as_view(), name="figures"),
    path("weekly/", metrics_api.WeeklyView.as_view(), name="weekly"),
    path("signals/", metrics_api.SignalsView.as_view(), name="signals"),
]
