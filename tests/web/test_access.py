"""Who may see and change what in the web UI: login, roles, and isolation between teams on every page."""

import pytest
from django.urls import reverse

from improvement.models import Action
from incidents.models import Incident, TimelineEvent
from teams.decorators import LAST_TEAM_SESSION_KEY
from tests.factories import (
    ActionFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    TeamFactory,
)
from tests.web import once

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_objects(other_team):
    incident = IncidentFactory(team=other_team)
    return {
        "incident": incident,
        "postmortem": PostmortemFactory(incident=incident),
        "action": ActionFactory(team=other_team),
    }


def team_pages(slug, objs):
    """Every page of a team, with the verb it accepts (GET pages are also POSTed to prove writes are refused)."""
    i, p, a = objs["incident"].pk, objs["postmortem"].pk, objs["action"].pk
    return [
        ("GET", reverse("teams:home", args=[slug])),
        ("POST", reverse("teams:members", args=[slug])),
        ("GET", reverse("incidents:list", args=[slug])),
        ("POST", reverse("incidents:create", args=[slug])),
        ("GET", reverse("incidents:detail", args=[slug, i])),
        ("POST", reverse("incidents:edit", args=[slug, i])),
        ("POST", reverse("incidents:timeline_add", args=[slug, i])),
        ("POST", reverse("incidents:status", args=[slug, i])),
        ("POST", reverse("incidents:postmortem_start", args=[slug, i])),
        ("POST", reverse("incidents:postmortem", args=[slug, p])),
        ("POST", reverse("incidents:postmortem_factor_add", args=[slug, p])),
        ("POST", reverse("incidents:postmortem_move", args=[slug, p])),
        ("POST", reverse("incidents:postmortem_action_create", args=[slug, p])),
        ("GET", reverse("reporting:dashboard", args=[slug])),
        ("GET", reverse("improvement:board", args=[slug])),
        ("POST", reverse("improvement:action_create", args=[slug])),
        ("GET", reverse("improvement:action_detail", args=[slug, a])),
        ("POST", reverse("improvement:action_edit", args=[slug, a])),
        ("POST", reverse("improvement:action_move", args=[slug, a])),
        ("POST", reverse("improvement:action_check", args=[slug, a])),
        ("GET", reverse("rituals:rituals", args=[slug])),
    ]


def test_team_pages_need_a_login(client, team, other_objects):
    for verb, url in team_pages(team.slug, other_objects):
        response = client.post(url, once()) if verb == "POST" else client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_lead_of_one_team_gets_404_on_every_page_of_another_team_and_writes_nothing(
    client, lead, other_team, other_objects
):
    client.force_login(lead)
    before = (Incident.objects.count(), Action.objects.count(), TimelineEvent.objects.count())
    stage = other_objects["action"].stage
    data = {"title": "x", "to_stage": "do", "from_stage": "plan", "text": "x", "to_status": "in_review"}
    for verb, url in team_pages(other_team.slug, other_objects):
        get, post = client.get(url).status_code, client.post(url, once(data)).status_code
        # The declared verb finds no team (404); the other verb is refused before any lookup (405) or 404.
        assert (get if verb == "GET" else post) == 404, f"{verb} {url}"
        assert (post if verb == "GET" else get) in (404, 405), f"{verb} {url}"
    assert (Incident.objects.count(), Action.objects.count(), TimelineEvent.objects.count()) == before
    other_objects["action"].refresh_from_db()
    assert other_objects["action"].stage == stage


def test_object_of_another_team_under_my_team_url_is_404(client, member, team, other_objects):
    """The team in the URL is mine, the object id belongs to another team: still 404."""
    client.force_login(member)
    for verb, url in team_pages(team.slug, other_objects):
        if "/incidents/" in url or "/postmortems/" in url or "/actions/" in url:
            if url.endswith(("/incidents/", "/new/")):
                continue
            response = client.post(url, once({"text": "x"})) if verb == "POST" else client.get(url)
            assert response.status_code == 404, f"{verb} {url}"


def test_viewer_reads_but_cannot_write(client, viewer, team):
    incident = IncidentFactory(team=team)
    client.force_login(viewer)
    assert client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).status_code == 200
    assert client.get(reverse("incidents:create", args=[team.slug])).status_code == 403
    response = client.post(reverse("incidents:timeline_add", args=[team.slug, incident.pk]), once({"text": "hi"}))
    assert response.status_code == 403
    assert not TimelineEvent.objects.filter(incident=incident).exists()
    page = client.get(reverse("incidents:detail", args=[team.slug, incident.pk])).content.decode()
    assert "Add to the timeline" not in page
    assert "Start the postmortem" not in page


def test_only_leads_manage_membership(client, member, lead, team):
    newcomer = MembershipFactory(team=TeamFactory()).user
    url = reverse("teams:members", args=[team.slug])
    client.force_login(member)
    assert client.get(url).status_code == 403
    client.force_login(lead)
    response = client.post(url, once({"username": newcomer.username, "role": "viewer"}))
    assert response.status_code == 302
    assert team.memberships.get(user=newcomer).role == "viewer"


def test_adding_an_unknown_user_shows_the_error_on_the_field(client, lead, team):
    client.force_login(lead)
    response = client.post(reverse("teams:members", args=[team.slug]), once({"username": "nobody", "role": "member"}))
    assert response.status_code == 400
    assert "No active user has this username." in response.content.decode()


def test_the_team_switcher_lists_only_my_teams(client, member, team, other_team):
    client.force_login(member)
    page = client.get(reverse("incidents:list", args=[team.slug])).content.decode()
    assert team.name in page
    assert other_team.name not in page


def test_home_goes_to_the_last_used_team(client, team):
    second = TeamFactory(name="Zeta team")
    user = MembershipFactory(team=team).user
    MembershipFactory(team=second, user=user)
    client.force_login(user)
    assert client.get(reverse("home"))["Location"] == reverse("teams:home", args=[team.slug])
    client.get(reverse("incidents:list", args=[second.slug]))
    assert client.session[LAST_TEAM_SESSION_KEY] == second.slug
    assert client.get(reverse("home"))["Location"] == reverse("teams:home", args=[second.slug])


def test_home_without_a_team_explains_what_to_do(client):
    user = MembershipFactory().user
    user.memberships.all().delete()
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "You do not belong to any team yet" in response.content.decode()


def test_a_form_without_its_single_use_token_is_refused(client, member, team):
    client.force_login(member)
    data = {"title": "No token", "severity": "SEV2", "status": "open", "started_at": "2026-01-05T10:00"}
    response = client.post(reverse("incidents:create", args=[team.slug]), data)
    assert response.status_code == 400
    assert not Incident.objects.filter(title="No token").exists()
