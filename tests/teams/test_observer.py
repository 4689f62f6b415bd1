"""The organisation observer: reads every team, writes in none it only observes; granted by a superuser, audited."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from improvement.models import Action
from incidents.models import Incident, TimelineEvent
from teams.models import Membership, OrganisationRole
from teams.selectors import teams_visible_to
from teams.services import grant_observer, withdraw_observer
from tests.factories import IncidentFactory, TeamFactory, UserFactory
from tests.web import once
from tests.web.test_access import other_objects, team_pages  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def observer(superuser):
    user = UserFactory(username="manager")
    grant_observer(user=user, by=superuser)
    return user


def test_an_observer_sees_every_team_and_a_member_only_theirs(observer, member, team, other_team):
    assert set(teams_visible_to(observer)) == {team, other_team}
    assert list(teams_visible_to(member)) == [team]


def test_an_observer_reads_every_page_of_a_team_and_writes_nothing(client, observer, other_team, other_objects):  # noqa: F811
    client.force_login(observer)
    before = (Incident.objects.count(), Action.objects.count(), TimelineEvent.objects.count())
    data = {"title": "x", "to_stage": "do", "from_stage": "plan", "text": "x", "to_status": "in_review"}
    for verb, url in team_pages(other_team.slug, other_objects):
        if verb == "GET":
            assert client.get(url, follow=True).status_code == 200, url
        assert client.post(url, once(data)).status_code in (403, 405), url
    assert (Incident.objects.count(), Action.objects.count(), TimelineEvent.objects.count()) == before
    # A page above an observer's (viewer) rights answers 403, as for any member below the page's role.
    assert client.get(reverse("teams:tokens", args=[other_team.slug])).status_code == 403


def test_an_observer_reads_the_api_of_every_team_and_writes_nothing(observer, team, other_team, lead):
    IncidentFactory(team=other_team, title="seen by the manager")
    api = APIClient()
    api.force_login(observer)
    titles = [row["title"] for row in api.get("/api/v1/incidents/").json()["results"]]
    assert "seen by the manager" in titles
    incident = Incident.objects.get(title="seen by the manager")
    created = api.post("/api/v1/incidents/", {"team": other_team.slug, "title": "x", "severity": "sev3"}, format="json")
    assert created.status_code in (400, 403)
    assert api.patch(f"/api/v1/incidents/{incident.pk}/", {"title": "changed"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/memberships/{Membership.objects.get(team=team, user=lead).pk}/").status_code == 404
    incident.refresh_from_db()
    assert incident.title == "seen by the manager"
    assert Incident.objects.count() == 1


def test_an_observer_who_is_also_a_member_keeps_their_member_rights_there(client, observer, team, other_team):
    Membership.objects.create(team=team, user=observer, role="member")
    client.force_login(observer)
    response = client.post(reverse("incidents:create", args=[team.slug]), once({"title": "ours", "severity": "sev3"}))
    assert response.status_code != 403  # their own team's form answers (here: the fields it needs)
    assert (
        client.post(reverse("incidents:create", args=[other_team.slug]), once({"title": "theirs"})).status_code == 403
    )


def test_a_normal_member_still_never_sees_another_team(client, member, other_team):
    client.force_login(member)
    assert client.get(reverse("reporting:dashboard", args=[other_team.slug])).status_code == 404


def test_only_a_superuser_grants_it_and_every_team_logs_it(team, other_team, lead, superuser):
    with pytest.raises(ValidationError):
        grant_observer(user=UserFactory(), by=lead)
    user = UserFactory(username="cto")
    grant_observer(user=user, by=superuser)
    for each in (team, other_team):
        entry = LogEntry.objects.get(additional_data__team_id=each.pk, content_type__model="organisationrole")
        assert (entry.actor, entry.additional_data["reason"]) == (superuser, "cto made an observer of all teams")
    withdraw_observer(user=user, by=superuser)
    assert not OrganisationRole.objects.filter(user=user).exists()
    assert LogEntry.objects.filter(action=LogEntry.Action.DELETE, content_type__model="organisationrole").count() == 2


def test_the_management_command_grants_and_withdraws(team, superuser, capsys):
    UserFactory(username="cfo")
    call_command("observer", "grant", "cfo", "--by", "root")
    assert OrganisationRole.objects.filter(user__username="cfo").exists()
    call_command("observer", "withdraw", "cfo", "--by", "root")
    assert not OrganisationRole.objects.filter(user__username="cfo").exists()
    UserFactory(username="plain")
    with pytest.raises(CommandError, match="Only a superuser"):
        call_command("observer", "grant", "cfo", "--by", "plain")


def test_the_admin_is_for_superusers_only(client, superuser, lead):
    lead.is_staff = True
    lead.save()
    client.force_login(lead)
    assert client.get("/admin/teams/organisationrole/").status_code == 403
    client.force_login(superuser)
    target = UserFactory(username="vp")
    response = client.post("/admin/teams/organisationrole/add/", {"user": target.pk, "role": "observer"})
    assert response.status_code == 302
    assert OrganisationRole.objects.get(user=target).granted_by == superuser


def test_the_team_list_of_an_observer_reads_in_a_fixed_number_of_queries(observer):
    api = APIClient()
    api.force_login(observer)
    TeamFactory()
    api.get("/api/v1/teams/")  # the session's first request loads what it caches
    with CaptureQueriesContext(connection) as small:
        assert len(api.get("/api/v1/teams/").json()["results"]) == 1
    for _ in range(5):
        TeamFactory()
    with CaptureQueriesContext(connection) as large:
        assert len(api.get("/api/v1/teams/").json()["results"]) == 6
    assert len(large.captured_queries) == len(small.captured_queries)
