"""Speed, flexibility and improvement-health metrics on hand-built data."""

import datetime as dt

import pytest

from improvement.models import Check, Stage
from reporting import metrics
from tests.factories import ActionFactory, ChangeFactory, IncidentFactory, PostmortemFactory, TeamFactory
from tests.reporting.metrics_data import at, move

pytestmark = pytest.mark.django_db

HOUR = 3600.0
DAY = 24 * HOUR
NOW = at("2026-04-08 12:00")


@pytest.fixture
def team():
    return TeamFactory(timezone="Europe/Paris")


def scope_of(team, start="2026-03-16", end="2026-04-05"):
    return metrics.build_scope(teams=team, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end))


def deploy(team, when, lead_hours, **kwargs):
    deployed = at(when)
    return ChangeFactory(
        team=team, deployed_at=deployed, committed_at=deployed - dt.timedelta(hours=lead_hours), **kwargs
    )


def test_a_team_with_no_changes_has_no_deployment_figures(team):
    figures = metrics.period_figures(scope_of(team), now=NOW)
    assert figures["speed"]["deployment_frequency"] == {"count": 0, "per_week": 0.0, "per_day": 0.0}
    assert figures["speed"]["lead_time"] == {"median": None, "p90": None, "count": 0}
    assert figures["flexibility"]["standard_change_share"]["value"] is None
    assert figures["flexibility"]["lead_time_spread"]["value"] is None
    assert figures["dora"]["cluster"] is None  # no placement without all four keys
    assert metrics.weekly_series(scope_of(team))["series"]["deployments"]["values"] == [0, 0, 0]


def test_change_figures_lead_time_failure_rate_and_kinds(team):
    # Lead times 1, 2, 3 and 10 hours: median 2.5 h; p90 h = 2.7 → 3 + 0.7 × 7 = 7.9 h; spread 7.9 / 2.5 = 3.16.
    deploy(team, "2026-03-17 10:00", 1, kind="standard")
    deploy(team, "2026-03-18 10:00", 2, kind="emergency", failed=True)
    causing = deploy(team, "2026-03-24 10:00", 3)
    deploy(team, "2026-03-31 10:00", 10)
    IncidentFactory(team=team, caused_by_change=causing, started_at=at("2026-03-24 11:00"))
    ChangeFactory(team=team, deployed_at=None, committed_at=at("2026-03-20 10:00"))  # not deployed: not counted
    figures = metrics.period_figures(scope_of(team), now=NOW)
    speed, flex = figures["speed"], figures["flexibility"]
    assert speed["deployment_frequency"]["count"] == 4
    assert speed["deployment_frequency"]["per_week"] == pytest.approx(4 / 3)
    assert speed["lead_time"]["median"] == pytest.approx(2.5 * HOUR)
    assert speed["lead_time"]["p90"] == pytest.approx(7.9 * HOUR)
    assert speed["lead_time"]["count"] == 4
    assert flex["lead_time_spread"]["value"] == pytest.approx(7.9 / 2.5)
    # Failed: the one marked failed, and the one an incident names as its cause.
    assert figures["reliability"]["change_failure_rate"] == {"value": 0.5, "count": 2, "of": 4}
    assert flex["standard_change_share"] == {"value": 0.25, "count": 1, "of": 4}
    assert flex["emergency_change_rate"] == {"value": 0.25, "count": 1, "of": 4}
    series = metrics.weekly_series(scope_of(team))["series"]
    assert series["deployments"]["values"] == [2, 1, 1]
    assert series["change_failure_rate"]["values"] == [0.5, 1.0, 0.0]
    assert series["lead_time_p50"]["values"] == [pytest.approx(1.5 * HOUR), 3 * HOUR, 10 * HOUR]


def test_a_team_is_placed_in_the_nearest_dora_cluster_with_recovery_from_failed_changes(team):
    # 21 deployments in 3 weeks = 1 a day; lead time 2 h; 1 failure in 21 ≈ 4.8 %.
    changes = [
        deploy(team, (dt.datetime(2026, 3, 16, 12) + dt.timedelta(days=day)).isoformat(), 2, failed=day == 0)
        for day in range(21)
    ]
    started = at("2026-03-20 08:00")
    # Restored in 20 minutes after the failed change; an unrelated incident took three days and does not count.
    IncidentFactory(
        team=team,
        caused_by_change=changes[0],
        started_at=started,
        detected_at=started,
        mitigated_at=started + dt.timedelta(minutes=20),
    )
    IncidentFactory(team=team, started_at=started, detected_at=started, mitigated_at=started + dt.timedelta(days=3))
    figures = metrics.period_figures(scope_of(team), now=NOW)
    dora = figures["dora"]
    assert dora["source"].startswith("Accelerate State of DevOps Report 2024")
    assert dora["keys"]["time_to_restore"]["value"] == 20 * 60
    assert figures["reliability"]["failed_change_restore"]["count"] == 1
    assert dora["cluster"] == "elite"
    assert dora["keys"]["change_failure_rate"]["reference"]["medium"] == 0.10


def test_the_cluster_weighs_all_four_keys_together_and_needs_all_four():
    from reporting.metrics.dora import CLUSTERS, DAY, dora_bands

    for level, typical in CLUSTERS.items():  # each cluster's own typical values are nearest to it
        found = dora_bands(
            deployments_per_day=typical["deployment_frequency"],
            lead_time_median=typical["lead_time"],
            change_failure_rate=typical["change_failure_rate"],
            time_to_restore_median=typical["time_to_restore"],
        )
        assert found["cluster"] == level and found["distances"][level] == 0
    # Read as cut-offs, 20.5 % would make the team "low"; with medium's other three keys it is medium.
    medium = dora_bands(
        deployments_per_day=0.08, lead_time_median=14 * DAY, change_failure_rate=0.205, time_to_restore_median=DAY / 2
    )
    assert medium["cluster"] == "medium"
    partial = dora_bands(
        deployments_per_day=1, lead_time_median=None, change_failure_rate=0.05, time_to_restore_median=600
    )
    assert (
        partial["cluster"] is None
        and partial["keys"]["lead_time"]["reference"]["elite"] == CLUSTERS["elite"]["lead_time"]
    )


def test_time_to_published_postmortem(team):
    incident = IncidentFactory(team=team, started_at=at("2026-03-17 08:00"), detected_at=at("2026-03-17 08:00"))
    PostmortemFactory(incident=incident, team=team, status="published", published_at=at("2026-03-19 08:00"))
    draft = IncidentFactory(team=team, started_at=at("2026-03-17 08:00"), detected_at=at("2026-03-17 08:00"))
    PostmortemFactory(incident=draft, team=team, status="draft")
    found = metrics.period_figures(scope_of(team), now=NOW)["speed"]["time_to_postmortem"]
    assert found == {"median": 2 * DAY, "p90": 2 * DAY, "count": 1}


def test_improvement_flow_cycle_time_throughput_and_wip_from_transitions(team):
    # Carried in: one action opened before the range, still open → WIP 1 at the start.
    ActionFactory(team=team, stage_entered_at=at("2026-03-01 09:00"))
    # Opened 16 March, in Act 20 March (cycle time 4 days), done 25 March.
    quick = ActionFactory(team=team, stage_entered_at=at("2026-03-16 10:00"))
    move(quick, Stage.DO, at("2026-03-17 10:00"), Stage.PLAN)
    move(quick, Stage.CHECK, at("2026-03-18 10:00"), Stage.DO)
    move(quick, Stage.ACT, at("2026-03-20 10:00"), Stage.CHECK)
    move(quick, Stage.DONE, at("2026-03-25 10:00"), Stage.ACT)
    # Opened 31 March, abandoned the same week: enters and leaves the WIP, is not throughput.
    dropped = ActionFactory(team=team, stage_entered_at=at("2026-03-31 10:00"))
    move(dropped, Stage.ABANDONED, at("2026-04-01 10:00"), Stage.PLAN)
    series = metrics.weekly_series(scope_of(team))["series"]
    assert series["improvement_wip"]["values"] == [2, 1, 1]
    assert series["improvement_throughput"]["values"] == [0, 1, 0]
    assert series["cycle_time_p50"]["values"] == [4 * DAY, None, None]
    figures = metrics.period_figures(scope_of(team), now=NOW)
    assert figures["flexibility"]["improvement_wip"] == 1
    assert figures["flexibility"]["improvement_throughput"] == {"count": 1, "per_week": pytest.approx(1 / 3)}
    assert figures["speed"]["improvement_cycle_time"] == {"median": 4 * DAY, "p90": 4 * DAY, "count": 1}
    # Aging of the one open action: 1 March 09:00 → 8 April 12:00 = 38 days 3 hours.
    assert figures["flexibility"]["open_action_age"] == {
        "median": 38 * DAY + 3 * HOUR,
        "p90": 38 * DAY + 3 * HOUR,
        "count": 1,
    }


def test_improvement_health_measured_effective_and_overdue(team):
    measured = ActionFactory(team=team, stage_entered_at=at("2026-03-02 10:00"))
    move(measured, Stage.DO, at("2026-03-03 10:00"), Stage.PLAN)
    move(measured, Stage.CHECK, at("2026-03-17 10:00"), Stage.DO)
    Check.objects.create(
        team=team,
        action=measured,
        computed_verdict="effective",
        verdict="effective",
        evidence="computed",
        baseline_value=4,
        observed_value=0,
    )
    # A check with a verdict but no measurement by the product does not count as measured.
    unmeasured_verdict = ActionFactory(team=team, stage_entered_at=at("2026-03-02 10:00"))
    move(unmeasured_verdict, Stage.DO, at("2026-03-03 10:00"), Stage.PLAN)
    move(unmeasured_verdict, Stage.CHECK, at("2026-03-18 10:00"), Stage.DO)
    Check.objects.create(team=team, action=unmeasured_verdict, verdict="inconclusive", baseline_value=4)
    unmeasured = ActionFactory(team=team, stage_entered_at=at("2026-03-02 10:00"))
    move(unmeasured, Stage.DO, at("2026-03-03 10:00"), Stage.PLAN)
    move(unmeasured, Stage.CHECK, at("2026-03-18 10:00"), Stage.DO)
    ActionFactory(team=team, due_date=dt.date(2026, 4, 1), stage_entered_at=at("2026-03-02 10:00"))
    ActionFactory(team=team, due_date=dt.date(2026, 4, 30), stage_entered_at=at("2026-03-02 10:00"))
    health = metrics.period_figures(scope_of(team), now=NOW)["health"]
    assert health["measured_share"] == {"value": pytest.approx(1 / 3), "count": 1, "of": 3}
    assert health["effective_share"] == {"value": pytest.approx(1 / 3), "count": 1, "of": 3}
    assert health["open_actions"] == 5
    assert health["overdue_actions"] == 1  # due 1 April, open on 8 April


def test_scope_over_all_teams_a_user_sees(team):
    from teams.selectors import teams_for_user
    from tests.factories import MembershipFactory

    other = TeamFactory(timezone="Europe/Paris")
    hidden = TeamFactory(timezone="Europe/Paris")
    user = MembershipFactory(team=team).user
    MembershipFactory(team=other, user=user)
    for owner in (team, other, hidden):
        deploy(owner, "2026-03-17 10:00", 1)
    scope = metrics.build_scope(teams=teams_for_user(user), start=dt.date(2026, 3, 16), end=dt.date(2026, 4, 5))
    assert scope.tz.key == "Europe/Paris"
    assert metrics.period_figures(scope, now=NOW)["speed"]["deployment_frequency"]["count"] == 2


def test_weeks_follow_utc_across_teams_in_different_zones():
    paris, tokyo = TeamFactory(timezone="Europe/Paris"), TeamFactory(timezone="Asia/Tokyo")
    scope = metrics.build_scope(teams=[paris, tokyo], start=dt.date(2026, 3, 16), end=dt.date(2026, 3, 22))
    assert scope.tz.key == "UTC"
    assert scope.start == at("2026-03-16 00:00")
    assert metrics.build_scope(teams=paris, start=dt.date(2026, 3, 18), end=dt.date(2026, 3, 18)).start == at(
        "2026-03-15 23:00"
    )  # widened to Monday 16 March, 00:00 in Paris


def test_a_failed_change_read_among_its_teams_incidents_is_the_same_as_among_all(team):
    from incidents.measures.queries import failed_change
    from incidents.models import Change

    other = TeamFactory()
    causing, quiet = deploy(team, "2026-03-24 10:00", 3), deploy(team, "2026-03-25 10:00", 3)
    marked = deploy(team, "2026-03-26 10:00", 3, failed=True)
    elsewhere = deploy(other, "2026-03-24 10:00", 3)
    IncidentFactory(team=team, caused_by_change=causing, started_at=at("2026-03-24 11:00"))
    IncidentFactory(team=other, caused_by_change=elsewhere, started_at=at("2026-03-24 11:00"))
    IncidentFactory(team=team, started_at=at("2026-03-25 11:00"))  # caused by nothing named
    everyone = set(Change.objects.filter(failed_change()).values_list("pk", flat=True))
    assert everyone == {causing.pk, marked.pk, elsewhere.pk}
    for teams in ([team.pk], [other.pk], [team.pk, other.pk]):
        changes = Change.objects.filter(team_id__in=teams)
        assert set(changes.filter(failed_change(teams)).values_list("pk", flat=True)) == {
            pk for pk in everyone if changes.filter(pk=pk).exists()
        }
    assert quiet.pk not in everyone
