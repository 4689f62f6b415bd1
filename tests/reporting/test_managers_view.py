"""The managers' view: the teams a user may see side by side, never one they may not, in constant queries."""

import datetime as dt

import pytest
from django.urls import reverse

from improvement import services
from improvement.models import Check, Stage
from reporting import metrics
from reporting.metrics.by_team import figures_by_team, weekly_series_by_team
from teams.services import grant_observer
from tests.factories import (
    ActionFactory,
    ChangeFactory,
    IncidentFactory,
    MembershipFactory,
    ProblemFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    measured_check,
)
from tests.reporting.test_dashboard_page import last_complete_monday

pytestmark = pytest.mark.django_db
URL = reverse("reports:teams")


def at(weeks_back: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(last_complete_monday() - dt.timedelta(weeks=weeks_back), dt.time(hour), tzinfo=dt.UTC)


def team_with_history(name: str, *, incidents: int = 3, changes: int = 4):
    team = TeamFactory(name=name, timezone="UTC")
    service = ServiceFactory(team=team)
    problem = ProblemFactory(team=team, title=f"{name} disk fills up")
    for i in range(incidents):
        start = at(i % 6)
        IncidentFactory(
            team=team,
            service=service,
            problem=problem,
            started_at=start,
            detected_at=start + dt.timedelta(minutes=5),
            mitigated_at=start + dt.timedelta(minutes=30 + 10 * i),
        )
    for i in range(changes):
        ChangeFactory(team=team, service=service, deployed_at=at(i % 6, 9), failed=i == 0)
    return team


def effective_check(team, title: str, weeks_back: int = 1) -> Check:
    """An action walked to Check in the period and measured effective there."""
    action = ActionFactory(team=team, title=title, stage_entered_at=at(weeks_back + 10))
    services.move_action(action=action, to_stage=Stage.DO, at=at(weeks_back + 9))
    services.move_action(action=action, to_stage=Stage.CHECK, note="Rolled out.", at=at(weeks_back, 11))
    check = measured_check(action)
    Check.objects.filter(pk=check.pk).update(measured_at=at(weeks_back), verdict="effective")
    return check


def observer_user():
    user = UserFactory(username="manager")
    grant_observer(user=user, by=UserFactory(username="root", is_superuser=True, is_staff=True))
    return user


def test_it_shows_each_of_the_users_teams_side_by_side(client):
    ops, web = team_with_history("Ops"), team_with_history("Web", incidents=5)
    user = MembershipFactory(team=ops, role="viewer").user
    MembershipFactory(team=web, role="member", user=user)
    client.force_login(user)
    html = client.get(URL).content.decode()
    for heading in ("Reliability", "Speed", "Flexibility", "Improvement health", "Time to restore"):
        assert heading in html
    assert html.count(f'data-team="{ops.slug}"') == 4 and html.count(f'data-team="{web.slug}"') == 4  # per pole
    assert "Ops disk fills up" in html and "Web disk fills up" in html  # recurring: 3 and 5 incidents
    assert html.index("Web disk fills up") < html.index("Ops disk fills up")  # most incidents first


def test_a_member_never_sees_a_team_they_do_not_belong_to(client):
    ops, hidden = team_with_history("Ops"), team_with_history("Hidden")
    effective_check(hidden, "Hidden canary deploys")
    user = MembershipFactory(team=ops).user
    client.force_login(user)
    html = client.get(URL).content.decode()
    assert f'data-team="{ops.slug}"' in html
    assert "Hidden" not in html and f"/t/{hidden.slug}/" not in html


def test_an_observer_reads_every_team(client):
    ops, web = team_with_history("Ops"), team_with_history("Web")
    effective_check(web, "Web canary deploys")
    client.force_login(observer_user())
    html = client.get(URL).content.decode()
    assert f'data-team="{ops.slug}"' in html and f'data-team="{web.slug}"' in html
    assert "Web canary deploys" in html and "you read them as an observer" in html


def test_the_link_shows_for_several_teams_or_an_observer_only(client):
    ops, web = TeamFactory(), TeamFactory()
    one = MembershipFactory(team=ops).user
    client.force_login(one)
    assert URL not in client.get(reverse("reporting:dashboard", args=[ops.slug])).content.decode()
    MembershipFactory(team=web, user=one)
    assert URL in client.get(reverse("reporting:dashboard", args=[ops.slug])).content.decode()
    client.force_login(observer_user())
    assert URL in client.get(reverse("home"), follow=True).content.decode()


def test_overridden_checks_are_listed_with_their_team(client):
    ops = team_with_history("Ops")
    check = effective_check(ops, "Runbook for restarts")
    Check.objects.filter(pk=check.pk).update(overridden=True, overridden_at=at(1), verdict="ineffective")
    client.force_login(MembershipFactory(team=ops).user)
    html = client.get(URL).content.decode()
    section = html[html.index('id="across-overridden"') :]
    assert "Runbook for restarts" in section
    assert "Runbook for restarts" not in html[html.index('id="across-verified"') : html.index('id="across-overridden"')]


def test_each_teams_figures_are_its_own_dashboard_figures():
    ops, web = team_with_history("Ops"), team_with_history("Web", incidents=5, changes=2)
    scope = metrics.build_scope(teams=[ops, web])
    grouped = figures_by_team(scope)
    weekly = weekly_series_by_team(scope)
    for team in (ops, web):
        alone = metrics.build_scope(teams=team)
        assert grouped[team.pk] == metrics.period_figures(alone)
        assert weekly[team.pk] == metrics.weekly_series(alone)
    assert grouped[web.pk]["reliability"]["incidents"] == 5


def test_the_query_count_does_not_grow_with_the_teams(client, django_assert_num_queries, django_assert_max_num_queries):
    observer = observer_user()
    team_with_history("Ops")
    client.force_login(observer)
    client.get(URL)
    with django_assert_max_num_queries(40) as few:
        client.get(URL)
    for name in ("Web", "Data", "Network", "Storage"):
        effective_check(team_with_history(name), f"{name} action")
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(URL).status_code == 200


def test_it_asks_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
