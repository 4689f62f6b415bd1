"""The default dashboard computed ahead by beat (reporting/dashboards.py): equal to the live
computation, shown when at most one tick old, refreshed only for the teams that look at it.

On the CI's second leg the cache is the real Redis and the database PostgreSQL; on the first,
the local-memory cache and SQLite.
"""

import datetime as dt

import freezegun
import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from reporting import dashboards, tasks
from tests.factories import ChangeFactory, IncidentFactory, MembershipFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def some_history(team, weeks=8):
    service = ServiceFactory(team=team)
    start = timezone.now() - dt.timedelta(weeks=weeks)
    for week in range(weeks):
        at = start + dt.timedelta(weeks=week)
        IncidentFactory(team=team, service=service, started_at=at, detected_at=at + dt.timedelta(minutes=4))
        ChangeFactory(team=team, service=service, deployed_at=at - dt.timedelta(hours=2))
    return service


def incidents_figure(response) -> str:
    """The Incidents card's figure, as the page shows it."""
    cards = [card for pole in response.context["poles"] for card in pole["cards"]]
    return next(card["value"] for card in cards if card["key"] == "incidents")


def counting(monkeypatch):
    computed = []
    real = dashboards.compute
    monkeypatch.setattr(dashboards, "compute", lambda team, now: computed.append(team.pk) or real(team, now))
    return computed


def test_beat_refreshes_every_minute_the_teams_whose_dashboard_was_opened(client, team, other_team, monkeypatch):
    entry = settings.CELERY_BEAT_SCHEDULE["dashboards-refresh"]
    assert entry["task"] == tasks.refresh_dashboards.name == "reporting.refresh_dashboards"
    assert len(entry["schedule"].minute) == 60
    client.force_login(MembershipFactory(team=team).user)
    client.get(reverse("reporting:dashboard", args=[team.slug]))
    computed = counting(monkeypatch)
    assert tasks.refresh_dashboards() == 1
    assert computed == [team.pk]  # the other team's dashboard was not opened: not computed


def test_the_copy_is_the_live_computation_for_each_team(team, other_team):
    some_history(team)
    some_history(other_team, weeks=3)
    now = timezone.now()
    for each in (team, other_team):
        dashboards.default_board(each, now)  # opened: beat refreshes it
    assert dashboards.refresh(now) == 2
    for each in (team, other_team):
        assert dashboards.default_board(each, now) == dashboards.compute(each, now)
    assert dashboards.default_board(team, now) != dashboards.default_board(other_team, now)


def test_the_page_shows_a_copy_at_most_one_tick_old(client, team, monkeypatch):
    some_history(team)
    client.force_login(MembershipFactory(team=team).user)
    url = reverse("reporting:dashboard", args=[team.slug])
    computed = counting(monkeypatch)
    with freezegun.freeze_time(timezone.now(), tick=False) as frozen:
        first = client.get(url)
        frozen.tick(dashboards.FRESH_SECONDS - 1)
        again = client.get(url)
        assert computed == [team.pk]  # within the tick: the copy
        assert incidents_figure(again) == incidents_figure(first)
        IncidentFactory(team=team, started_at=timezone.now() - dt.timedelta(weeks=2))  # in the default period
        frozen.tick(2)
        later = client.get(url)
        assert computed == [team.pk, team.pk]  # older than a tick: computed again, with the new incident
    assert incidents_figure(later) != incidents_figure(first)


def test_a_filtered_dashboard_is_always_computed_live(client, team, monkeypatch):
    service = some_history(team)
    client.force_login(MembershipFactory(team=team).user)
    computed = counting(monkeypatch)
    url = reverse("reporting:dashboard", args=[team.slug])
    assert client.get(url, {"service": service.pk}).status_code == 200
    assert computed == []  # the service's figures: metrics.dashboard on the filtered scope, never the copy


def test_the_page_works_when_the_cache_does_not_answer(client, team, monkeypatch):
    some_history(team)
    client.force_login(MembershipFactory(team=team).user)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(cache, "get_many", down)
    response = client.get(reverse("reporting:dashboard", args=[team.slug]))
    assert response.status_code == 200 and "Reliability" in response.content.decode()
    assert dashboards.refresh() == 0
