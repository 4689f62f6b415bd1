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
    path("rituals/new/", views.ritual_create, name="ritual_create"),
    path("rituals/<int:pk>/", views.ritual_edit, name="ritual_edit"),
    path("reviews/<int:pk>/", views.review_session, name="review"),
    path("reviews/<int:pk>/sections/<slug:kind>/", views.review_section, name="review_section"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("reviews/<int:pk>/attendance/", views.review_attendance, name="review_attendance"),
    path("reviews/<int:pk>/notes/", views.review_notes, name="review_notes"),
    path("reviews/<int:pk>/close/", views.review_close, name="review_close"),
    path("reviews/<int:pk>/summary.md", views.review_export, name="review_export"),
]
