"""A lead (staff) manages rituals, sessions and feed addresses in the admin."""

import zoneinfo

import pytest

from rituals.models import CalendarFeed, Notification, Ritual
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def ritual_form(team, **overrides):
    data = {
        "team": team.pk,
        "name": "Weekly review board",
        "kind": "weekly_review",
        "active": "on",
        "weekday": "0",
        "time_of_day": "10:00",
        "rrule": "",
        "timezone": "Europe/Paris",
        "duration_minutes": "60",
        "stale_after_days": "14",
        "notify_email": "on",
        "chat_webhook_url": "",
        "sessions-TOTAL_FORMS": "0",
        "sessions-INITIAL_FORMS": "0",
        "sessions-MIN_NUM_FORMS": "0",
        "sessions-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_admin_creates_a_ritual_with_attendees_and_its_next_occurrence(admin_client, team, lead, member):
    response = admin_client.post("/admin/rituals/ritual/add/", ritual_form(team, attendees=[lead.pk, member.pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    ritual = Ritual.objects.get()
    assert set(ritual.attendees.all()) == {lead, member}
    local = ritual.next_occurrence.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour) == (0, 10)


def test_admin_refuses_a_bad_rrule_with_a_field_error(admin_client, team):
    response = admin_client.post("/admin/rituals/ritual/add/", ritual_form(team, rrule="FREQ=SOMETIMES"))
    assert response.status_code == 200
    assert "not a valid RFC 5545 RRULE" in response.content.decode()
    assert not Ritual.objects.exists()


def test_admin_refuses_a_ritual_without_cadence(admin_client, team):
    response = admin_client.post("/admin/rituals/ritual/add/", ritual_form(team, weekday="", time_of_day=""))
    assert response.status_code == 200
    assert "Give a weekday and a time, or an RRULE." in response.content.decode()


def test_admin_shows_a_session_with_its_frozen_agenda(admin_client, team):
    session = factories.ReviewSessionFactory(
        ritual=factories.RitualFactory(team=team),
        agenda={"version": 1, "items": [{"id": "incident:1", "kind": "incident", "title": "Gateway down"}]},
    )
    page = admin_client.get(f"/admin/rituals/reviewsession/{session.pk}/change/").content.decode()
    assert "Gateway down" in page
    listing = admin_client.get("/admin/rituals/ritual/").content.decode()
    assert "Monday 10:00" in listing


def test_admin_creates_and_revokes_a_feed_address(admin_client, team, client):
    response = admin_client.post("/admin/rituals/calendarfeed/add/", {"team": team.pk, "label": "Ops calendar"})
    assert response.status_code == 302
    feed = CalendarFeed.objects.get()
    assert feed.created_by.username == "root"
    assert feed.get_absolute_url() in admin_client.get("/admin/rituals/calendarfeed/").content.decode()
    assert admin_client.get(feed.get_absolute_url()).status_code == 200
    admin_client.post("/admin/rituals/calendarfeed/", {"action": "revoke", "_selected_action": [feed.pk]})
    feed.refresh_from_db()
    assert feed.revoked_at is not None
    assert admin_client.get(feed.get_absolute_url()).status_code == 404


def test_admin_lists_the_notification_log(admin_client, team):
    Notification.objects.create(
        team=team,
        kind="action_overdue",
        channel="email",
        object_id=3,
        period="2026-W48",
        recipient="owner@example.com",
        subject="Action overdue",
        body="…",
        status="sent",
    )
    assert "owner@example.com" in admin_client.get("/admin/rituals/notification/").content.decode()


def test_admin_log_hides_the_secret_path_of_chat_webhooks(admin_client, team):
    Notification.objects.create(
        team=team,
        kind="session_opened",
        channel="chat",
        object_id=1,
        recipient="https://hooks.example.com/services/T000/B000/SECRETTOKEN",
        subject="Weekly review board opened",
        body="…",
    )
    page = admin_client.get("/admin/rituals/notification/").content.decode()
    assert "https://hooks.example.com/…" in page
    assert "SECRETTOKEN" not in page
