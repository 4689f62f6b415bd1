"""The PDCA board and the action pages under /t/<team_slug>/."""

from django.urls import path

from improvement.views import actions as views
from improvement.views import archive

app_name = "improvement"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("actions/new/", views.action_create, name="action_create"),
    path("actions/archive/", archive.action_archive, name="action_archive"),
    path("actions/<int:pk>/", views.action_detail, name="action_detail"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action_edit"),
    path("actions/<int:pk>/move/", views.action_move, name="action_move"),
    path("actions/<int:pk>/check/", views.action_check, name="action_check"),
    path("actions/<int:pk>/measure/", views.action_measure, name="action_measure"),
    path("actions/<int:pk>/extend-check/", views.action_extend_check, name="action_extend_check"),
]
