"""The iCal feed address, included from config/urls.py at calendar/."""

from django.urls import path

from rituals.calendar_feed import calendar_feed

urlpatterns = [
    path("<str:token>.ics", calendar_feed, name="calendar-feed"),
]
