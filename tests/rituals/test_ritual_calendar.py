"""The iCal feed: parses, lists coming occurrences in the ritual's time zone, revocable, one team only."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from icalendar import Calendar

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris_ritual(team):
    team.timezone = "Europe/Paris"
    team.save()
    return factories.RitualFactory(team=team, name="Weekly review board", timezone="Europe/Paris", duration_minutes=45)


def get_calendar(client, feed):
    response = client.get(f"/calendar/{feed.token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def test_feed_parses_and_lists_coming_occurrences_at_ten_paris_time(client, team, paris_ritual):
    feed = factories.CalendarFeedFactory(team=team)
    assert feed.get_absolute_url() == f"/calendar/{feed.token}.ics"
    calendar = get_calendar(client, feed)
    events = list(calendar.walk("VEVENT"))
    assert len(events) >= 15  # a week back, four months ahead
    starts = [event.decoded("dtstart") for event in events]
    assert all(start.tzinfo.key == "Europe/Paris" for start in starts)
    assert {(s.weekday(), s.hour, s.minute) for s in starts} == {(0, 10, 0)}
    assert any(s > timezone.now() for s in starts)
    first = events[0]
    assert first.decoded("dtend") - first.decoded("dtstart") == dt.timedelta(minutes=45)
    assert str(first["summary"]) == f"Weekly review board ({team.name})"
    assert len({str(e["uid"]) for e in events}) == len(events)
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


def test_feed_dtstart_carries_the_tzid(client, team, paris_ritual):
    feed = factories.CalendarFeedFactory(team=team)
    text = client.get(f"/calendar/{feed.token}.ics").content.decode()
    assert "DTSTART;TZID=Europe/Paris:" in text
    assert "BEGIN:VTIMEZONE" in text


def test_feed_crosses_the_change_of_hour_at_ten_local(team, paris_ritual):
    from rituals.calendar_feed import feed_calendar

    feed = factories.CalendarFeedFactory(team=team)
    now = dt.datetime(2027, 3, 20, tzinfo=dt.UTC)  # the spring change is on 2027-03-28
    starts = [e.decoded("dtstart") for e in feed_calendar(feed, now=now).walk("VEVENT")]
    utc_hours = {s.astimezone(dt.UTC).hour for s in starts[:4]}
    assert utc_hours == {8, 9}
    assert {s.astimezone(zoneinfo.ZoneInfo("Europe/Paris")).hour for s in starts} == {10}


def test_revoked_token_is_a_404(client, team, paris_ritual):
    feed = factories.CalendarFeedFactory(team=team, revoked_at=timezone.now())
    assert client.get(f"/calendar/{feed.token}.ics").status_code == 404


def test_unknown_token_is_a_404(client, team, paris_ritual):
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_another_teams_token_never_shows_this_teams_rituals(client, team, other_team, paris_ritual):
    factories.RitualFactory(team=other_team, name="Their postmortem review", kind="postmortem_review", timezone="UTC")
    feed = factories.CalendarFeedFactory(team=other_team)
    summaries = {str(e["summary"]) for e in get_calendar(client, feed).walk("VEVENT")}
    assert summaries == {f"Their postmortem review ({other_team.name})"}


def test_inactive_rituals_are_left_out(client, team, paris_ritual):
    paris_ritual.active = False
    paris_ritual.save()
    feed = factories.CalendarFeedFactory(team=team)
    assert list(get_calendar(client, feed).walk("VEVENT")) == []


def test_feed_takes_a_constant_number_of_queries(client, team, paris_ritual, django_assert_max_num_queries):
    for n in range(5):
        factories.RitualFactory(team=team, name=f"Ritual {n}", weekday=n, timezone="UTC")
    feed = factories.CalendarFeedFactory(team=team)
    with django_assert_max_num_queries(3):
        assert client.get(f"/calendar/{feed.token}.ics").status_code == 200
