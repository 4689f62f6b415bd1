"""Occurrence math: local wall-clock time in the ritual's time zone, DST both ways, RRULE."""

import datetime as dt
import zoneinfo

import pytest

from rituals import occurrences
from rituals.models import Ritual

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.UTC


def weekly(weekday=0, hour=10, minute=0, tz="Europe/Paris", **extra):
    return Ritual(name="Weekly", weekday=weekday, time_of_day=dt.time(hour, minute), timezone=tz, **extra)


def test_weekly_paris_ritual_stays_at_ten_local_across_autumn_change_of_hour():
    # Clocks go back on Sunday 2026-10-25 in Europe/Paris.
    found = occurrences.occurrences_between(
        weekly(), dt.datetime(2026, 10, 12, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert [o.astimezone(PARIS).strftime("%a %H:%M") for o in found] == ["Mon 10:00"] * 4
    assert [o.strftime("%m-%d %H:%M") for o in found] == ["10-12 08:00", "10-19 08:00", "10-26 09:00", "11-02 09:00"]


def test_weekly_paris_ritual_stays_at_ten_local_across_spring_change_of_hour():
    # Clocks go forward on Sunday 2026-03-29 in Europe/Paris.
    found = occurrences.occurrences_between(
        weekly(), dt.datetime(2026, 3, 20, tzinfo=UTC), dt.datetime(2026, 4, 7, tzinfo=UTC)
    )
    assert [o.strftime("%m-%d %H:%M") for o in found] == ["03-23 09:00", "03-30 08:00", "04-06 08:00"]
    assert {o.astimezone(PARIS).hour for o in found} == {10}


def test_next_occurrence_is_strictly_after_the_given_instant():
    ritual = weekly(tz="UTC")
    monday_ten = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert occurrences.next_occurrence(ritual, after=monday_ten - dt.timedelta(seconds=1)) == monday_ten
    assert occurrences.next_occurrence(ritual, after=monday_ten) == monday_ten + dt.timedelta(days=7)


def test_previous_occurrence_is_the_latest_at_or_before():
    ritual = weekly()
    occurrence = dt.datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # 10:00 Paris, winter time
    assert occurrences.previous_occurrence(ritual, at=occurrence) == occurrence
    assert occurrences.previous_occurrence(ritual, at=occurrence - dt.timedelta(minutes=1)) == dt.datetime(
        2026, 10, 19, 8, 0, tzinfo=UTC
    )


def test_time_in_the_spring_forward_gap_lands_on_the_hour_after():
    # 02:30 does not exist in Paris on 2026-03-29; it is 03:30 local that day, 02:30 on the others.
    daily = Ritual(name="Nightly", rrule="FREQ=DAILY", time_of_day=dt.time(2, 30), timezone="Europe/Paris")
    daily.created_at = dt.datetime(2026, 3, 1, tzinfo=UTC)
    found = occurrences.occurrences_between(
        daily, dt.datetime(2026, 3, 28, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert [o.astimezone(PARIS).strftime("%d %H:%M") for o in found] == ["28 02:30", "29 03:30", "30 02:30"]


def test_ambiguous_time_in_the_autumn_fold_happens_once_the_first_time():
    daily = Ritual(name="Nightly", rrule="FREQ=DAILY", time_of_day=dt.time(2, 30), timezone="Europe/Paris")
    daily.created_at = dt.datetime(2026, 10, 1, tzinfo=UTC)
    found = occurrences.occurrences_between(
        daily, dt.datetime(2026, 10, 24, 12, tzinfo=UTC), dt.datetime(2026, 10, 26, 12, tzinfo=UTC)
    )
    assert [o.strftime("%d %H:%M") for o in found] == ["25 00:30", "26 01:30"]  # +02:00 then +01:00


def test_rrule_first_monday_of_the_month_in_new_york():
    ritual = Ritual(
        name="Monthly ops", rrule="RRULE:FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9;BYMINUTE=30", timezone="America/New_York"
    )
    ritual.created_at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    found = occurrences.occurrences_between(
        ritual, dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 5, 1, tzinfo=UTC)
    )
    ny = zoneinfo.ZoneInfo("America/New_York")
    assert [o.astimezone(ny).strftime("%Y-%m-%d %H:%M") for o in found] == [
        "2026-02-02 09:30",
        "2026-03-02 09:30",
        "2026-04-06 09:30",  # after the US change of hour (2026-03-08): still 09:30 local
    ]
    assert found[1].hour != found[2].hour  # ...so a different hour in UTC


def test_rrule_every_other_week_keeps_its_parity_from_the_creation_date():
    ritual = Ritual(name="Biweekly", rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", time_of_day=dt.time(14), timezone="UTC")
    ritual.created_at = dt.datetime(2026, 11, 2, tzinfo=UTC)
    found = occurrences.occurrences_between(
        ritual, dt.datetime(2026, 11, 2, tzinfo=UTC), dt.datetime(2026, 12, 10, tzinfo=UTC)
    )
    assert [o.day for o in found] == [3, 17, 1]


def test_rrule_with_count_ends():
    ritual = Ritual(name="Three times", rrule="FREQ=DAILY;COUNT=3", time_of_day=dt.time(9), timezone="UTC")
    ritual.created_at = dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert occurrences.next_occurrence(ritual, after=dt.datetime(2026, 11, 3, 9, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid"),
        ("FREQ=SOMETIMES", "not a valid"),
        ("DTSTART:20260101T090000\nRRULE:FREQ=DAILY", "time zone"),
    ],
)
def test_invalid_rrule_is_a_field_error(text, fragment):
    assert fragment in occurrences.rrule_error(text)


def test_valid_rrule_has_no_error():
    assert occurrences.rrule_error("RRULE:FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10") is None
