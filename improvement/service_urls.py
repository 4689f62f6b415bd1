"""The service catalog under /t/<team_slug>/ (namespace "services")."""

from django.urls import path

from improvement.views import services as views

app_name = "services"
urlpatterns = [
    path("services/", views.service_list, name="list"),
    path("services/<slug:slug>/", views.service_detail, name="detail"),
]
