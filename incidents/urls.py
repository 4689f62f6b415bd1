"""The change log under /t/<team_slug>/ (namespace "changes")."""

from django.urls import path

from incidents import views

app_name = "changes"
urlpatterns = [
    path("changes/", views.change_list, name="list"),
    path("changes/pick/", views.change_pick, name="pick"),
    path("changes/<int:pk>/", views.change_detail, name="detail"),
]
