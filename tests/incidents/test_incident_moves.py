"""Acknowledge / mitigate / resolve / close, now or backdated, in order: the same rule on the page and in the API."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import TimelineEvent
from tests.api.conftest import populate
from tests.factories import IncidentFactory, TimelineEventFactory
from tests.web import once

pytestmark = pytest.mark.django_db


def local(moment):
    """A time as the team's datetime-local field sends it (the test team's zone is UTC)."""
    return timezone.localtime(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def test_the_new_incident_form_starts_now(client, member, team):
    client.force_login(member)
    html = client.get(reverse("incidents:create", args=[team.slug])).content.decode()
    assert f'value="{timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H")}' in html


def test_it_acknowledges_then_resolves_with_backdated_times(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("incidents:status", args=[team.slug, incident.pk])
    page = client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).content.decode()
    assert 'value="acknowledge"' in page and "Mark resolved" in page
    ack = incident.detected_at + dt.timedelta(minutes=3)
    assert client.post(url, {"move": "acknowledge", "at": local(ack)}).status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_at == ack.replace(second=0, microsecond=0)
    page = client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).content.decode()
    assert 'value="acknowledge"' not in page  # acknowledged once
    resolved = incident.detected_at + dt.timedelta(minutes=40)
    assert client.post(url, {"move": "resolved", "at": local(resolved)}).status_code == 302
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at == incident.mitigated_at == resolved.replace(second=0, microsecond=0)


def test_an_acknowledgement_before_the_start_is_a_field_error_and_writes_nothing(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    response = client.post(
        reverse("incidents:status", args=[team.slug, incident.pk]),
        {"move": "acknowledge", "at": local(incident.started_at - dt.timedelta(hours=1))},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_at_errors"' in html and "cannot be before" in html
    assert 'value="acknowledge"' in html  # the page keeps its buttons
    incident.refresh_from_db()
    assert incident.acknowledged_at is None and not incident.timeline.exists()


def test_a_move_in_the_future_is_refused(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("incidents:status", args=[team.slug, incident.pk])
    response = client.post(url, {"move": "mitigated", "at": local(timezone.now() + dt.timedelta(hours=2))})
    assert response.status_code == 400 and "This time is in the future." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "open" and incident.mitigated_at is None


def test_moves_are_for_members_of_the_team_only(client, member, viewer, team, other_team):
    foreign = IncidentFactory(team=other_team)
    client.force_login(member)
    assert (
        client.post(
            reverse("incidents:status", args=[other_team.slug, foreign.pk]), {"move": "acknowledge"}
        ).status_code
        == 404
    )
    assert (
        client.post(reverse("incidents:status", args=[team.slug, foreign.pk]), {"move": "acknowledge"}).status_code
        == 404
    )
    mine = IncidentFactory(team=team)
    client.force_login(viewer)
    assert (
        client.post(reverse("incidents:status", args=[team.slug, mine.pk]), {"move": "acknowledge"}).status_code == 403
    )
    foreign.refresh_from_db(), mine.refresh_from_db()
    assert foreign.acknowledged_at is None and mine.acknowledged_at is None


def test_the_api_moves_with_the_same_rules(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = f"/api/v1/incidents/{incident.pk}/move/"
    early = (incident.started_at - dt.timedelta(minutes=10)).isoformat()
    refused = client.post(url, {"move": "acknowledge", "at": early}, content_type="application/json")
    assert refused.status_code == 400 and "at" in refused.json()["errors"]
    incident.refresh_from_db()
    assert incident.acknowledged_at is None
    at = (incident.detected_at + dt.timedelta(minutes=1)).isoformat()
    done = client.post(url, {"move": "acknowledge", "at": at}, content_type="application/json")
    assert done.status_code == 200 and done.json()["acknowledged_at"] is not None
    again = client.post(url, {"move": "acknowledge"}, content_type="application/json")
    assert again.status_code == 400 and "move" in again.json()["errors"]
    mitigated = client.post(url, {"move": "mitigated"}, content_type="application/json")
    assert mitigated.json()["status"] == "mitigated"


def test_the_api_hides_another_teams_incident(client, member, team, other_team):
    foreign = populate(other_team)["incident"]
    client.force_login(member)
    response = client.post(
        f"/api/v1/incidents/{foreign.pk}/move/", {"move": "acknowledge"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_a_timeline_entry_in_the_future_or_before_the_start_is_refused(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("incidents:timeline_add", args=[team.slug, incident.pk])
    future = once({"kind": "note", "text": "Later", "occurred_at": local(timezone.now() + dt.timedelta(hours=3))})
    response = client.post(url, future)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This time is in the future." in html
    assert 'value="mitigated"' in html  # without htmx the whole page comes back, buttons included
    before = once(
        {"kind": "note", "text": "Earlier", "occurred_at": local(incident.started_at - dt.timedelta(hours=1))}
    )
    assert "before the incident started" in client.post(url, before).content.decode()
    assert not incident.timeline.exists()
    api = client.post(
        f"/api/v1/incidents/{incident.pk}/timeline/",
        {"text": "Later", "occurred_at": (timezone.now() + dt.timedelta(hours=3)).isoformat()},
        content_type="application/json",
    )
    assert api.status_code == 400 and "occurred_at" in api.json()["errors"]
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def count_queries(client, url, data=None) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data) if data else client.get(url)
    return response.status_code, len(queries)


def test_the_incident_page_and_a_refused_move_run_a_constant_number_of_queries(client, member, team):
    incident = IncidentFactory(team=team)
    TimelineEventFactory(incident=incident, author=member)
    client.force_login(member)
    page = reverse("incidents:detail", args=[team.slug, incident.pk])
    move = reverse("incidents:status", args=[team.slug, incident.pk])
    refused = {"move": "acknowledge", "at": local(incident.started_at - dt.timedelta(hours=1))}
    client.get(page)
    small = count_queries(client, page), count_queries(client, move, refused)
    assert small[0][0] == 200 and small[1][0] == 400
    for _ in range(10):
        TimelineEventFactory(incident=incident, author=member)
    assert (count_queries(client, page), count_queries(client, move, refused)) == small
