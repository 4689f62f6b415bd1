"""The tick opens exactly one session per ritual and occurrence, whatever runs twice or late."""

import datetime as dt

import pytest
from django.db import IntegrityError

from rituals import agenda, occurrences, tasks, tick
from rituals import signals as ritual_signals
from rituals.models import ReviewSession, Ritual
from tests import factories

UTC = dt.UTC
pytestmark = pytest.mark.django_db


@pytest.fixture
def ritual(team, lead, member):
    ritual = factories.RitualFactory(team=team, timezone="Europe/Paris")
    ritual.attendees.set([lead, member])
    return ritual


def test_saving_a_ritual_computes_its_next_occurrence_in_the_future(ritual):
    assert ritual.next_occurrence is not None
    assert ritual.next_occurrence > dt.datetime.now(UTC)
    assert ritual.next_occurrence.astimezone(dt.timezone(dt.timedelta(0))).minute == 0
    assert ritual.schedule_key == ritual.current_schedule_key()


def test_editing_the_time_recomputes_the_next_occurrence(ritual):
    before = ritual.next_occurrence
    ritual.time_of_day = dt.time(15, 30)
    ritual.save()
    assert ritual.next_occurrence != before
    assert ritual.next_occurrence.astimezone(occurrences.local_tz(ritual)).strftime("%H:%M") == "15:30"


def test_due_ritual_opens_one_session_and_advances_next_occurrence(ritual, lead, member):
    occurrence = ritual.next_occurrence
    opened = tick.run_tick(now=occurrence + dt.timedelta(seconds=20))
    session = ReviewSession.objects.get()
    assert opened == [session.pk]
    assert session.occurrence == occurrence
    assert session.team == ritual.team
    assert set(session.attendees.all()) == {lead, member}
    assert session.agenda["version"] == agenda.VERSION == 2
    ritual.refresh_from_db()
    assert ritual.next_occurrence == occurrence + dt.timedelta(days=7) or (
        ritual.next_occurrence - occurrence in (dt.timedelta(days=7, hours=1), dt.timedelta(days=7, hours=-1))
    )


def test_ritual_not_yet_due_opens_nothing(ritual):
    assert tick.run_tick(now=ritual.next_occurrence - dt.timedelta(seconds=1)) == []
    assert not ReviewSession.objects.exists()


def test_tick_run_twice_for_the_same_minute_opens_one_session(ritual):
    now = ritual.next_occurrence + dt.timedelta(seconds=5)
    first = tick.run_tick(now=now)
    second = tick.run_tick(now=now)
    third = tick.run_tick(now=now + dt.timedelta(seconds=60))
    assert len(first) == 1
    assert second == third == []
    assert ReviewSession.objects.count() == 1


def test_occurrences_missed_while_down_open_once_for_the_latest(ritual):
    occurrence = ritual.next_occurrence
    # Everything was down for three weeks and a half: three occurrences passed unopened.
    back = occurrence + dt.timedelta(days=17, hours=2)
    for minute in range(5):  # the ticks after the restart
        tick.run_tick(now=back + dt.timedelta(minutes=minute))
    session = ReviewSession.objects.get()
    assert session.occurrence == occurrences.previous_occurrence(ritual, at=back)
    assert session.occurrence > occurrence + dt.timedelta(days=13)
    ritual.refresh_from_db()
    assert ritual.next_occurrence > back


def test_second_occurrence_links_the_previous_session(ritual):
    first_occurrence = ritual.next_occurrence
    tick.run_tick(now=first_occurrence + dt.timedelta(seconds=1))
    ritual.refresh_from_db()
    tick.run_tick(now=ritual.next_occurrence + dt.timedelta(seconds=1))
    first, second = ReviewSession.objects.order_by("occurrence")
    assert second.previous == first
    assert second.agenda["since"] == first.occurrence.isoformat()


def test_database_refuses_a_second_session_for_the_same_occurrence(ritual):
    factories.ReviewSessionFactory(ritual=ritual, occurrence=ritual.next_occurrence)
    with pytest.raises(IntegrityError):
        factories.ReviewSessionFactory(ritual=ritual, occurrence=ritual.next_occurrence)


def test_session_already_there_is_not_duplicated_and_the_ritual_still_advances(ritual):
    # e.g. a tick whose commit landed but whose task was redelivered with a stale ritual row
    existing = factories.ReviewSessionFactory(ritual=ritual, occurrence=ritual.next_occurrence)
    tick.run_tick(now=ritual.next_occurrence + dt.timedelta(seconds=1))
    assert list(ReviewSession.objects.all()) == [existing]
    ritual.refresh_from_db()
    assert ritual.next_occurrence > existing.occurrence


def test_inactive_ritual_opens_nothing_and_has_no_next_occurrence(ritual):
    occurrence = ritual.next_occurrence
    ritual.active = False
    ritual.save()
    assert ritual.next_occurrence is None
    assert tick.run_tick(now=occurrence + dt.timedelta(minutes=1)) == []


def test_tick_repairs_a_ritual_created_without_save(team):
    # bulk_create (or a raw import) skips Ritual.save(): next_occurrence is NULL until the tick.
    (ritual,) = Ritual.objects.bulk_create(
        [Ritual(team=team, name="Imported", weekday=2, time_of_day=dt.time(9), timezone="UTC")]
    )
    assert Ritual.objects.get(pk=ritual.pk).next_occurrence is None
    now = dt.datetime.now(UTC)
    tick.run_tick(now=now)
    ritual.refresh_from_db()
    assert ritual.next_occurrence > now
    assert ritual.next_occurrence.weekday() == 2


def test_tick_recomputes_a_schedule_edited_by_a_queryset_update(ritual):
    now = dt.datetime.now(UTC)
    Ritual.objects.filter(pk=ritual.pk).update(weekday=4, time_of_day=dt.time(16, 45))
    tick.run_tick(now=now)
    ritual.refresh_from_db()
    local = ritual.next_occurrence.astimezone(occurrences.local_tz(ritual))
    assert (local.weekday(), local.strftime("%H:%M")) == (4, "16:45")
    assert not ReviewSession.objects.exists()  # an edit never opens a past occurrence


def test_reactivated_ritual_does_not_open_the_occurrences_it_slept_through(ritual):
    Ritual.objects.filter(pk=ritual.pk).update(active=False)  # around save(): the tick notices
    tick.run_tick(now=ritual.next_occurrence + dt.timedelta(days=1))
    assert Ritual.objects.get(pk=ritual.pk).next_occurrence is None
    later = ritual.next_occurrence + dt.timedelta(days=30)
    Ritual.objects.filter(pk=ritual.pk).update(active=True)
    tick.run_tick(now=later)
    assert not ReviewSession.objects.exists()
    ritual.refresh_from_db()
    assert ritual.next_occurrence > later


def test_session_opened_signal_fires_after_commit(ritual, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, session, **kwargs):
        received.append(session.pk)

    ritual_signals.review_session_opened.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            opened = tick.run_tick(now=ritual.next_occurrence + dt.timedelta(seconds=1))
        assert received == []  # not before the commit
        for callback in callbacks:
            callback()
    finally:
        ritual_signals.review_session_opened.disconnect(receiver)
    assert received == opened


def test_one_broken_ritual_does_not_stop_the_others(team, monkeypatch):
    good = factories.RitualFactory(team=team, name="Good", timezone="UTC")
    bad = factories.RitualFactory(team=team, name="Bad", timezone="UTC")
    from rituals import agenda

    real = agenda.build_agenda

    def build(*, session, now=None):
        if session.ritual_id == bad.pk:
            raise RuntimeError("boom")
        return real(session=session, now=now)

    monkeypatch.setattr(agenda, "build_agenda", build)
    opened = tick.run_tick(now=good.next_occurrence + dt.timedelta(seconds=1))
    assert list(ReviewSession.objects.values_list("ritual", flat=True)) == [good.pk]
    assert len(opened) == 1
    bad.refresh_from_db()
    assert bad.next_occurrence <= good.next_occurrence  # still due: retried by the next tick


def test_tick_task_runs_eagerly_and_is_idempotent(ritual, celery_eager, monkeypatch):
    from django.utils import timezone

    due = ritual.next_occurrence + dt.timedelta(seconds=3)
    monkeypatch.setattr(timezone, "now", lambda: due)
    tasks.tick.delay()
    tasks.tick.delay()
    assert ReviewSession.objects.filter(ritual=ritual).count() == 1


def test_ritual_form_validation_needs_a_cadence(team):
    ritual = Ritual(team=team, name="No cadence", timezone="UTC")
    with pytest.raises(Exception) as excinfo:
        ritual.full_clean()
    assert "weekday" in excinfo.value.message_dict


def test_ritual_with_a_bad_rrule_is_a_field_error(team):
    ritual = Ritual(team=team, name="Bad", timezone="UTC", rrule="FREQ=NEVER")
    with pytest.raises(Exception) as excinfo:
        ritual.full_clean()
    assert "rrule" in excinfo.value.message_dict


def test_ritual_tick_command_opens_the_latest_past_occurrence_once(team):
    from io import StringIO

    from django.core.management import call_command

    ritual = factories.RitualFactory(team=team, timezone="UTC")
    out = StringIO()
    call_command("ritual_tick", "--open-latest", stdout=out)
    call_command("ritual_tick", "--open-latest", stdout=out)
    session = ReviewSession.objects.get()
    assert session.occurrence == occurrences.previous_occurrence(ritual, at=dt.datetime.now(UTC))
    assert out.getvalue().splitlines()[0].startswith("opened 1 session(s)")
    assert out.getvalue().splitlines()[1].startswith("opened 0 session(s)")
    ritual.refresh_from_db()
    assert ritual.next_occurrence > dt.datetime.now(UTC)


def test_tick_across_the_change_of_hour_keeps_ten_oclock_paris(ritual):
    # Sessions on 2026-10-19 (summer time) then 2026-10-26 (winter time): 10:00 in Paris both times.
    summer = dt.datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
    Ritual.objects.filter(pk=ritual.pk).update(next_occurrence=summer)
    tick.run_tick(now=summer + dt.timedelta(seconds=30))
    ritual.refresh_from_db()
    assert ritual.next_occurrence == dt.datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    tick.run_tick(now=ritual.next_occurrence + dt.timedelta(seconds=30))
    opened = list(ReviewSession.objects.order_by("occurrence").values_list("occurrence", flat=True))
    assert [o.astimezone(occurrences.local_tz(ritual)).strftime("%m-%d %H:%M") for o in opened] == [
        "10-19 10:00",
        "10-26 10:00",
    ]
