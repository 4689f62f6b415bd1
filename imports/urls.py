"""The lead's CSV imports under /t/<team_slug>/settings/imports/."""

from django.urls import path

from imports import views

app_name = "imports"
urlpatterns = [
    path("", views.imports, name="imports"),
    path("<int:run_id>/", views.run_page, name="run"),
    path("<int:run_id>/import/", views.run_import, name="run_import"),
    path("<int:run_id>/progress/", views.progress, name="progress"),
    path("mappings/<int:mapping_id>/delete/", views.delete_mapping, name="delete_mapping"),
]
