"""Team pages under /t/<team_slug>/: the team's landing page and its membership (leads)."""

from django.urls import path

from teams import views

app_name = "teams"
urlpatterns = [
    path("", views.team_home, name="home"),
    path("settings/members/", views.members, name="members"),
]
