"""Rituals and review sessions under /t/<team_slug>/."""

from django.urls import path

from rituals import views, views_presenter, views_report

app_name = "rituals"
urlpatterns = [
    path("rituals/", views.rituals, name="rituals"),
    path("my-work/", views.my_work, name="my_work"),
    path("rituals/new/", views.ritual_create, name="ritual_create"),
    path("rituals/<int:pk>/", views.ritual_edit, name="ritual_edit"),
    path("reviews/<int:pk>/", views.review_session, name="review"),
    path("reviews/<int:pk>/present/", views_presenter.review_present, name="review_present"),
    path("reviews/<int:pk>/sections/<slug:kind>/", views.review_section, name="review_section"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("reviews/<int:pk>/attendance/", views.review_attendance, name="review_attendance"),
    path("reviews/<int:pk>/notes/", views.review_notes, name="review_notes"),
    path("reviews/<int:pk>/close/", views.review_close, name="review_close"),
    path("reviews/<int:pk>/summary.md", views.review_export, name="review_export"),
    path("reports/monthly/", views_report.team_report, name="monthly_report"),
    path("reports/monthly.pdf", views_report.team_report, name="monthly_report_pdf"),
]
