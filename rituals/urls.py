"""Rituals and review sessions under /t/<team_slug>/."""

from django.urls import path

from rituals.views import my_work, presenter, report, review, rituals

app_name = "rituals"
urlpatterns = [
    path("rituals/", rituals.rituals, name="rituals"),
    path("my-work/", my_work.my_work, name="my_work"),
    path("rituals/new/", rituals.ritual_create, name="ritual_create"),
    path("rituals/<int:pk>/", rituals.ritual_edit, name="ritual_edit"),
    path("reviews/<int:pk>/", review.review_session, name="review"),
    path("reviews/<int:pk>/present/", presenter.review_present, name="review_present"),
    path("reviews/<int:pk>/sections/<slug:kind>/", review.review_section, name="review_section"),
    path("reviews/<int:pk>/decide/", review.review_decide, name="review_decide"),
    path("reviews/<int:pk>/attendance/", review.review_attendance, name="review_attendance"),
    path("reviews/<int:pk>/notes/", review.review_notes, name="review_notes"),
    path("reviews/<int:pk>/close/", review.review_close, name="review_close"),
    path("reviews/<int:pk>/summary.md", review.review_export, name="review_export"),
    path("reports/monthly/", report.team_report, name="monthly_report"),
    path("reports/monthly.pdf", report.team_report, name="monthly_report_pdf"),
]
