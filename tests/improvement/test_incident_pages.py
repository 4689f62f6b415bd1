"""Incident and postmortem pages: filters, validated timestamps in the team's time zone, in-place updates."""

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from improvement.models import Action
from incidents.models import ContributingFactor, Incident, Postmortem, TimelineEvent
from tests.factories import (
    ActionFactory,
    IncidentFactory,
    PostmortemFactory,
    ProblemFactory,
    ServiceFactory,
    TimelineEventFactory,
)
from tests.web import once

pytestmark = pytest.mark.django_db


def incident_data(**overrides):
    data = {
        "title": "Gateway 502s",
        "severity": "SEV2",
        "status": "open",
        "started_at": "2026-03-02T09:00",
        "detected_at": "2026-03-02T09:05",
    }
    return once(data | overrides)


def test_incident_list_filters_by_service_severity_status_period_and_search(client, member, team):
    gateway, db = ServiceFactory(team=team, name="Gateway"), ServiceFactory(team=team, name="Database")
    start = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    IncidentFactory(team=team, service=gateway, severity="SEV1", title="Gateway down", started_at=start)
    IncidentFactory(team=team, service=db, severity="SEV3", title="Slow queries", started_at=start)
    IncidentFactory(
        team=team, service=gateway, severity="SEV1", title="Old outage", started_at=start - dt.timedelta(60)
    )
    client.force_login(member)
    url = reverse("incidents:list", args=[team.slug])

    def titles(**params):
        page = client.get(url, params).context["page"]
        return sorted(i.title for i in page.object_list)

    assert titles(service=gateway.pk) == ["Gateway down", "Old outage"]
    assert titles(severity="SEV3") == ["Slow queries"]
    assert titles(started_from="2026-03-01", started_to="2026-03-31") == ["Gateway down", "Slow queries"]
    assert titles(q="outage") == ["Old outage"]
    assert titles(status="resolved") == []


def test_incident_list_pages_keep_the_filters_in_their_links(client, member, team, settings):
    settings.UI_PAGE_SIZE = 2
    for n in range(5):
        IncidentFactory(team=team, severity="SEV2", title=f"Disk full {n}")
    IncidentFactory(team=team, severity="SEV4", title="Noise")
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug]), {"severity": "SEV2"}).content.decode()
    # One "?" only: "??page=2" reads as a parameter named "?page" and every link led to page 1.
    assert 'href="?severity=SEV2&amp;page=2" rel="next"' in html
    page = client.get(reverse("incidents:list", args=[team.slug]), {"severity": "SEV2", "page": 2}).context["page"]
    assert (page.number, page.paginator.count) == (2, 5)


def test_incident_list_offers_only_my_teams_services(client, member, team, other_team):
    ServiceFactory(team=team, name="Mine")
    ServiceFactory(team=other_team, name="Theirs")
    client.force_login(member)
    page = client.get(reverse("incidents:list", args=[team.slug])).content.decode()
    assert "Mine" in page
    assert "Theirs" not in page


def test_incident_list_query_count_does_not_grow_with_rows(client, member, team, django_assert_max_num_queries):
    client.force_login(member)
    url = reverse("incidents:list", args=[team.slug])
    for _ in range(3):
        PostmortemFactory(incident=IncidentFactory(team=team, problem=ProblemFactory(team=team)))
    client.get(url)  # first visit remembers the team in the session (one write)
    with django_assert_max_num_queries(9) as few:
        client.get(url)
    for _ in range(30):
        incident = IncidentFactory(team=team, problem=ProblemFactory(team=team))
        PostmortemFactory(incident=incident)
        ActionFactory(team=team, owner=member).incidents.add(incident)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url, {"severity": "SEV3"})
    assert len(response.context["page"].object_list) == 25


def test_creating_an_incident_reads_times_in_the_teams_time_zone(client, member, team):
    team.timezone = "Europe/Paris"
    team.save()
    service = ServiceFactory(team=team)
    client.force_login(member)
    response = client.post(reverse("incidents:create", args=[team.slug]), incident_data(service=service.pk))
    incident = Incident.objects.get(title="Gateway 502s")
    assert response["Location"] == reverse("incidents:detail", args=[team.slug, incident.pk])
    assert incident.started_at == dt.datetime(2026, 3, 2, 9, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert incident.created_by == member
    detail = client.get(response["Location"]).content.decode()
    assert "09:00" in detail  # shown back in Paris time, not UTC (08:00)


def test_a_detection_before_the_start_is_a_field_error_and_creates_nothing(client, member, team):
    client.force_login(member)
    response = client.post(reverse("incidents:create", args=[team.slug]), incident_data(detected_at="2026-03-02T08:00"))
    assert response.status_code == 400
    assert "detected at cannot be before started at." in response.content.decode()
    assert response.context["form"].errors["detected_at"]
    assert not Incident.objects.exists()


def test_a_status_without_its_timestamp_is_refused_on_that_field(client, member, team):
    client.force_login(member)
    response = client.post(reverse("incidents:create", args=[team.slug]), incident_data(status="resolved"))
    assert response.status_code == 400
    assert "resolved_at" in response.context["form"].errors


def test_a_double_submitted_incident_is_created_once(client, member, team):
    client.force_login(member)
    data = incident_data()
    first = client.post(reverse("incidents:create", args=[team.slug]), data)
    second = client.post(reverse("incidents:create", args=[team.slug]), data)
    assert Incident.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_a_refused_form_can_be_corrected_and_sent_again_with_the_same_token(client, member, team):
    client.force_login(member)
    bad = incident_data(detected_at="2026-03-02T08:00")
    assert client.post(reverse("incidents:create", args=[team.slug]), bad).status_code == 400
    good = {**bad, "detected_at": "2026-03-02T09:05"}
    assert client.post(reverse("incidents:create", args=[team.slug]), good).status_code == 302
    assert Incident.objects.count() == 1


def test_editing_an_incident_records_the_status_change_on_the_timeline(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    started = incident.started_at.strftime("%Y-%m-%dT%H:%M")
    data = {"title": incident.title, "severity": "SEV1", "status": "mitigated", "started_at": started}
    data["mitigated_at"] = (incident.detected_at + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    data["detected_at"] = (incident.detected_at + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("incidents:edit", args=[team.slug, incident.pk]), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.severity, incident.status) == ("SEV1", "mitigated")
    assert incident.timeline.filter(kind="status").exists()


def test_a_timeline_entry_is_added_in_place_with_htmx(client, member, team):
    incident = IncidentFactory(team=team)
    TimelineEventFactory(incident=incident, text="Pager fired")
    client.force_login(member)
    url = reverse("incidents:timeline_add", args=[team.slug, incident.pk])
    response = client.post(url, once({"kind": "action", "text": "Rolled back the deploy"}), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="timeline-body">')
    assert "Pager fired" in html and "Rolled back the deploy" in html
    assert "<html" not in html
    assert TimelineEvent.objects.get(text="Rolled back the deploy").author == member


def test_an_empty_timeline_entry_shows_the_error_in_place(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("incidents:timeline_add", args=[team.slug, incident.pk])
    response = client.post(url, once({"kind": "note", "text": ""}), HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not incident.timeline.exists()


def test_incident_detail_shows_problem_actions_and_postmortem_button(client, member, team):
    problem = ProblemFactory(team=team, title="Pool exhaustion")
    incident = IncidentFactory(team=team, problem=problem)
    action = ActionFactory(team=team, title="Add a canary")
    action.incidents.add(incident)
    client.force_login(member)
    page = client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).content.decode()
    assert "Pool exhaustion" in page
    assert "Add a canary" in page
    assert "Start the postmortem" in page


def test_the_postmortem_journey_from_start_to_published(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    response = client.post(reverse("incidents:postmortem_start", args=[team.slug, incident.pk]))
    postmortem = Postmortem.objects.get(incident=incident)
    url = reverse("incidents:postmortem", args=[team.slug, postmortem.pk])
    assert response["Location"] == url
    # Starting twice opens the same postmortem.
    client.post(reverse("incidents:postmortem_start", args=[team.slug, incident.pk]))
    assert Postmortem.objects.filter(incident=incident).count() == 1

    move = reverse("incidents:postmortem_move", args=[team.slug, postmortem.pk])
    refused = client.post(move, {"to_status": "in_review"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Write the summary first." in html and "Name at least one contributing factor." in html

    client.post(url, {"summary": "Gateway returned 502s.", "impact": "Checkout failed for 20 minutes."})
    factors = reverse("incidents:postmortem_factor_add", args=[team.slug, postmortem.pk])
    added = client.post(
        factors, once({"category": "change", "description": "Config pushed to all zones"}), HTTP_HX_REQUEST="true"
    )
    assert added.status_code == 200 and "Config pushed to all zones" in added.content.decode()
    assert client.post(move, {"to_status": "in_review"}).status_code == 302
    assert client.post(move, {"to_status": "published"}).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == "published" and postmortem.published_at is not None
    page = client.get(url).content.decode()
    assert "Save the postmortem" not in page  # published: read-only
    assert "Checkout failed for 20 minutes." in page


def test_a_viewer_cannot_edit_a_postmortem(client, viewer, team):
    postmortem = PostmortemFactory(incident=IncidentFactory(team=team), summary="Original")
    client.force_login(viewer)
    url = reverse("incidents:postmortem", args=[team.slug, postmortem.pk])
    assert client.post(url, {"summary": "Changed", "impact": "x"}).status_code == 404
    postmortem.refresh_from_db()
    assert postmortem.summary == "Original"


def test_an_action_is_created_from_a_postmortem_in_one_step_and_linked(client, member, team):
    postmortem = PostmortemFactory(incident=IncidentFactory(team=team))
    ContributingFactor.objects.create(team=team, postmortem=postmortem, category="change", description="x")
    client.force_login(member)
    url = reverse("incidents:postmortem_action_create", args=[team.slug, postmortem.pk])
    data = once({"title": "Canary deploys for the gateway", "kind": "preventive", "owner": member.pk})
    response = client.post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Canary deploys for the gateway" in response.content.decode()
    action = Action.objects.get(title="Canary deploys for the gateway")
    assert (action.stage, action.origin, action.owner) == ("plan", "postmortem", member)
    assert list(action.postmortems.all()) == [postmortem]
    assert list(action.incidents.all()) == [postmortem.incident]
    # The same submission again creates nothing more.
    assert client.post(url, data, HTTP_HX_REQUEST="true").status_code == 204
    assert Action.objects.filter(title="Canary deploys for the gateway").count() == 1


def test_one_click_mitigation_stamps_the_time_and_the_timeline(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    page = client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).content.decode()
    assert "Mark mitigated" in page and "Mark resolved" in page
    response = client.post(reverse("incidents:status", args=[team.slug, incident.pk]), {"status": "mitigated"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "mitigated" and incident.mitigated_at is not None
    assert incident.timeline.filter(kind="status").exists()
    # Closing straight from mitigated is not offered, and refused.
    client.post(reverse("incidents:status", args=[team.slug, incident.pk]), {"status": "closed"})
    incident.refresh_from_db()
    assert incident.status == "mitigated"


def test_the_incident_list_and_the_api_read_one_filter_set(client, member, team):
    """The page's one-choice select and the API's repeated values are the same filter."""
    IncidentFactory(team=team, severity="SEV1", title="Gateway down", summary="502s at the edge")
    IncidentFactory(team=team, severity="SEV2", title="Slow queries")
    IncidentFactory(team=team, severity="SEV4", title="Typo on the status page")
    client.force_login(member)
    page = client.get(reverse("incidents:list", args=[team.slug]), {"severity": "SEV1"})
    assert [i.title for i in page.context["page"].object_list] == ["Gateway down"]
    assert '<option value="SEV1" selected>' in page.content.decode()
    assert [f.name for f in page.context["fields"]] == [
        "q",
        "service",
        "severity",
        "status",
        "started_from",
        "started_to",
    ]
    api_client = APIClient()
    api_client.force_authenticate(member)
    rows = api_client.get("/api/v1/incidents/?severity=SEV1&severity=SEV2").json()["results"]
    assert sorted(row["title"] for row in rows) == ["Gateway down", "Slow queries"]
    rows = api_client.get("/api/v1/incidents/", {"q": "edge"}).json()["results"]
    assert [row["title"] for row in rows] == ["Gateway down"]
    refused = api_client.get("/api/v1/incidents/", {"severity": "SEV9"})
    assert refused.status_code == 400 and "severity" in refused.json()["errors"]
