"""The team dashboard under /t/<team_slug>/."""

from django.urls import path

from reporting import views

app_name = "reporting"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/targets/", views.targets, name="targets"),
    path("dashboard/targets/<int:pk>/delete/", views.target_delete, name="target_delete"),
    path("dashboard/figures/<slug:figure>/", views.figure_rows_page, name="figure_rows"),
]
