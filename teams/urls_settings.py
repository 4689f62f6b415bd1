from django.urls import path

from teams import views_settings

app_name = "team_settings"
urlpatterns = [
    path("tokens/", views_settings.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views_settings.revoke_token, name="revoke_token"),
    path("integrations/", views_settings.integrations, name="integrations"),
    path("integrations/<int:integration_id>/rotate/", views_settings.rotate_secret, name="rotate_secret"),
    path("integrations/<int:integration_id>/deliveries/", views_settings.deliveries, name="deliveries"),
    path(
        "integrations/<int:integration_id>/deliveries/<int:delivery_id>/reapply/",
        views_settings.reapply_delivery,
        name="reapply_delivery",
    ),
    path("outgoing/", views_settings.add_outgoing, name="add_outgoing"),
    path("outgoing/<int:endpoint_id>/delete/", views_settings.delete_outgoing, name="delete_outgoing"),
]
