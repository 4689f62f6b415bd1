"""'My work': my open and overdue actions, the postmortems I write or review, the next review I attend."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ActionFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    ReviewSessionFactory,
    RitualFactory,
)

pytestmark = pytest.mark.django_db


def my_work(team):
    return reverse("rituals:my_work", args=[team.slug])


def test_it_lists_my_open_and_overdue_actions_only(client, member, team):
    today = timezone.localdate()
    ActionFactory(team=team, owner=member, title="Late one", due_date=today - dt.timedelta(days=3))
    ActionFactory(team=team, owner=member, title="On time", due_date=today + dt.timedelta(days=3), stage="do")
    ActionFactory(team=team, owner=member, title="Finished", stage="done")
    ActionFactory(team=team, title="Someone else's")
    client.force_login(member)
    response = client.get(my_work(team))
    assert [a.title for a in response.context["actions"]] == ["Late one", "On time"]
    assert [a.title for a in response.context["overdue"]] == ["Late one"]
    html = response.content.decode()
    assert "1 overdue" in html and "Finished" not in html and "Someone else" not in html


def test_it_lists_postmortems_i_write_and_those_in_review_by_others(client, member, team):
    colleague = MembershipFactory(team=team).user
    PostmortemFactory(team=team, incident=IncidentFactory(team=team, title="My draft"), author=member)
    PostmortemFactory(
        team=team, incident=IncidentFactory(team=team, title="Theirs in review"), author=colleague, status="in_review"
    )
    PostmortemFactory(team=team, incident=IncidentFactory(team=team, title="Their draft"), author=colleague)
    PostmortemFactory(
        team=team, incident=IncidentFactory(team=team, title="My published"), author=member, status="published"
    )
    client.force_login(member)
    titles = sorted(p.incident.title for p in client.get(my_work(team)).context["postmortems"])
    assert titles == ["My draft", "Theirs in review"]


def test_it_shows_the_next_review_i_attend_and_one_in_progress(client, member, team):
    attended = RitualFactory(team=team, name="Weekly review board")
    attended.attendees.add(member)
    RitualFactory(team=team, name="Not mine")
    session = ReviewSessionFactory(ritual=attended)
    client.force_login(member)
    response = client.get(my_work(team))
    assert response.context["next_ritual"] == attended
    assert response.context["open_session"] == session
    html = response.content.decode()
    assert "Weekly review board" in html and "Not mine" not in html
    assert reverse("rituals:review", args=[team.slug, session.pk]) in html


def test_it_is_reachable_from_the_user_menu_and_isolated(client, viewer, team, other_team):
    client.force_login(viewer)
    html = client.get(reverse("improvement:board", args=[team.slug])).content.decode()
    assert f'href="{my_work(team)}"' in html
    assert client.get(my_work(team)).status_code == 200
    assert client.get(my_work(other_team)).status_code == 404
    assert client.post(my_work(team)).status_code == 405


def test_another_teams_work_does_not_show(client, member, team, other_team):
    MembershipFactory(team=other_team, user=member)
    ActionFactory(team=other_team, owner=member, title="Elsewhere")
    client.force_login(member)
    assert "Elsewhere" not in client.get(my_work(team)).content.decode()


def test_the_query_count_does_not_grow_with_rows(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member)
    client.get(my_work(team))
    ActionFactory(team=team, owner=member)
    with django_assert_max_num_queries(30) as small:
        client.get(my_work(team))
    for _ in range(12):
        ActionFactory(team=team, owner=member, due_date=timezone.localdate() - dt.timedelta(days=1))
        PostmortemFactory(team=team, incident=IncidentFactory(team=team), author=member)
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(my_work(team)).status_code == 200


def test_my_work_in_french(client, member, team):
    client.force_login(member)
    html = client.get(my_work(team), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Mon travail" in html
