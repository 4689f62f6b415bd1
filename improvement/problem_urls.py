"""Problem pages under /t/<team_slug>/ (namespace "problems").

They live in improvement because they show each problem's actions and their verdicts.
"""

from django.urls import path

from improvement.views import problems as views

app_name = "problems"
urlpatterns = [
    path("problems/", views.problem_list, name="list"),
    path("problems/new/", views.problem_create, name="create"),
    path("problems/from-incidents/", views.incidents_to_problem, name="from_incidents"),
    path("problems/<int:pk>/", views.problem_detail, name="detail"),
    path("problems/<int:pk>/edit/", views.problem_edit, name="edit"),
    path("problems/<int:pk>/detach/", views.problem_detach, name="detach"),
    path("problems/<int:pk>/merge/", views.problem_merge, name="merge"),
    path("problem-merges/<int:pk>/undo/", views.merge_undo, name="merge_undo"),
]
