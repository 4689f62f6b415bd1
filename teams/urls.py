"""Team pages under /t/<team_slug>/: the landing page, members, API tokens and the audit log (leads)."""

from django.urls import path

from teams import views, views_audit

app_name = "teams"
urlpatterns = [
    path("", views.team_home, name="home"),
    path("settings/members/", views.members, name="members"),
    path("settings/members/<int:membership_id>/remove/", views.remove_member, name="remove_member"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.revoke_token, name="revoke_token"),
    path("audit/", views_audit.audit_log, name="audit_log"),
]
