from django.urls import path

from integrations.webhooks import views

app_name = "hooks"
urlpatterns = [path("<uuid:public_id>/", views.receive, name="receive")]
