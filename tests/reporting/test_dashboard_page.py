"""The team dashboard: the figures of the metrics module, weekly sparklines, control-limit signals in words."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests.factories import IncidentFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def last_complete_monday():
    today = timezone.localdate()
    return today - dt.timedelta(days=today.weekday() + 7)


def incidents_in_week(team, service, monday, count):
    for i in range(count):
        start = dt.datetime.combine(monday, dt.time(10), tzinfo=dt.UTC) + dt.timedelta(hours=i)
        IncidentFactory(team=team, service=service, started_at=start, detected_at=start + dt.timedelta(minutes=5))


def test_dashboard_shows_the_three_poles_with_sparklines(client, member, team):
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for week in range(1, 10):
        incidents_in_week(team, service, monday - dt.timedelta(weeks=week), 1 + week % 2)
    client.force_login(member)
    html = client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    for heading in ("Reliability", "Speed", "Flexibility", "Time to acknowledge", "Change failure rate"):
        assert heading in html
    assert html.count('<svg class="sparkline"') >= 4  # incidents and their timings
    assert "not enough data yet" in html  # no change recorded: deployments have no line to draw
    assert "Within its limits: routine variation." in html


def test_a_week_beyond_the_control_limits_is_flagged_in_words(client, member, team):
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for week in range(1, 12):
        incidents_in_week(team, service, monday - dt.timedelta(weeks=week), 1 + week % 2)
    incidents_in_week(team, service, monday, 12)  # the last complete week: far above the limit
    client.force_login(member)
    html = client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    assert "⚠ Signal: above the upper control limit" in html
    assert 'class="point-signal"' in html
    assert "crossed their control limits last week" in html or "crossed its control limits last week" in html


def test_dashboard_query_count_does_not_grow_with_data(client, member, team, django_assert_max_num_queries):
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    incidents_in_week(team, service, monday, 1)
    client.force_login(member)
    url = reverse("reporting:dashboard", args=[team.slug])
    client.get(url)
    cache.clear()  # the live computation, not the copy of the last tick (reporting/dashboards.py)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    for week in range(1, 15):
        incidents_in_week(team, service, monday - dt.timedelta(weeks=week), 3)
    cache.clear()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
