"""Incident and postmortem pages under /t/<team_slug>/ (namespace "incidents").

They live in improvement because they show each incident's and postmortem's actions.
"""

from django.urls import path

from improvement.views import factors, timeline
from improvement.views import incidents as views

app_name = "incidents"
urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_create, name="create"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="edit"),
    path("incidents/<int:pk>/timeline/", timeline.timeline_add, name="timeline_add"),
    path("incidents/<int:pk>/timeline/<int:event_pk>/edit/", timeline.timeline_edit, name="timeline_edit"),
    path("incidents/<int:pk>/timeline/<int:event_pk>/delete/", timeline.timeline_delete, name="timeline_delete"),
    path("recurrences/<int:pk>/not-a-recurrence/", views.recurrence_dismiss, name="recurrence_dismiss"),
    path("incidents/<int:pk>/status/", views.incident_status, name="status"),
    path("incidents/<int:pk>/postmortem/", views.postmortem_start, name="postmortem_start"),
    path("postmortems/<int:pk>/", views.postmortem_detail, name="postmortem"),
    path("postmortems/<int:pk>/factors/", factors.factor_add, name="postmortem_factor_add"),
    path("postmortems/<int:pk>/factors/<int:factor_pk>/edit/", factors.factor_edit, name="postmortem_factor_edit"),
    path(
        "postmortems/<int:pk>/factors/<int:factor_pk>/delete/", factors.factor_delete, name="postmortem_factor_delete"
    ),
    path("postmortems/<int:pk>/status/", views.postmortem_move, name="postmortem_move"),
    path("postmortems/<int:pk>/actions/", views.postmortem_action_create, name="postmortem_action_create"),
]
