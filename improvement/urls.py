"""PDCA board, actions, dashboard, rituals and review sessions under /t/<team_slug>/."""

from django.urls import path

from improvement import views

app_name = "improvement"
urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("board/", views.board, name="board"),
    path("actions/new/", views.action_create, name="action_create"),
    path("actions/<int:pk>/", views.action_detail, name="action_detail"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action_edit"),
    path("actions/<int:pk>/move/", views.action_move, name="action_move"),
    path("actions/<int:pk>/check/", views.action_check, name="action_check"),
    path("rituals/", views.rituals, name="rituals"),
]
