"""Integration settings under /t/<team_slug>/settings/: incoming hooks, their delivery log, outgoing webhooks."""

from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/<int:integration_id>/", views.integration_settings, name="integration"),
    path("integrations/<int:integration_id>/mapping/", views.integration_mapping, name="mapping"),
    path("integrations/<int:integration_id>/rotate/", views.rotate_secret, name="rotate_secret"),
    path("integrations/<int:integration_id>/deliveries/", views.deliveries, name="deliveries"),
    path(
        "integrations/<int:integration_id>/deliveries/<int:delivery_id>/reapply/",
        views.reapply_delivery,
        name="reapply_delivery",
    ),
    path("outgoing/", views.add_outgoing, name="add_outgoing"),
    path("outgoing/<int:endpoint_id>/delete/", views.delete_outgoing, name="delete_outgoing"),
]
