"""Reliability metrics on hand-built data: counts, durations (median, p90, count), repeats, MTBF, DST weeks."""

import datetime as dt

import pytest

from incidents.measures.db import interpolate
from reporting import metrics
from tests.factories import (
    ContributingFactorFactory,
    IncidentFactory,
    PostmortemFactory,
    ProblemFactory,
    ServiceFactory,
    TeamFactory,
)
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db

MIN = 60.0


@pytest.fixture
def paris():
    return TeamFactory(timezone="Europe/Paris")


def scope_of(team, start="2026-03-16", end="2026-04-05", **kwargs):
    return metrics.build_scope(teams=team, start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), **kwargs)


def incident(team, started, **kwargs):
    started = at(started)
    return IncidentFactory(team=team, started_at=started, detected_at=kwargs.pop("detected", started), **kwargs)


def test_no_data_gives_zero_counts_and_no_medians(paris):
    figures = metrics.period_figures(scope_of(paris), now=at("2026-04-08 12:00"))
    rel = figures["reliability"]
    assert rel["incidents"] == 0
    assert rel["time_to_mitigate"] == {"median": None, "p90": None, "count": 0}
    assert rel["change_failure_rate"] == {"value": None, "count": 0, "of": 0}
    assert rel["repeat_incident_rate"]["value"] is None
    assert figures["dora"]["cluster"] is None and figures["dora"]["distances"] == {}


def test_time_to_mitigate_median_and_p90_use_linear_interpolation(paris):
    # Mitigated after 10, 20, 30 and 100 minutes. Sorted v = [10, 20, 30, 100]:
    # median: h = 0.5 × 3 = 1.5 → 20 + 0.5 × (30 − 20) = 25 min = 1500 s;
    # p90:    h = 0.9 × 3 = 2.7 → 30 + 0.7 × (100 − 30) = 79 min = 4740 s.
    for minutes in (30, 10, 100, 20):
        started = at("2026-03-17 08:00")
        IncidentFactory(
            team=paris,
            started_at=started,
            detected_at=started,
            mitigated_at=started + dt.timedelta(minutes=minutes),
        )
    found = metrics.period_figures(scope_of(paris))["reliability"]["time_to_mitigate"]
    assert found["count"] == 4
    assert found["median"] == pytest.approx(25 * MIN)
    assert found["p90"] == pytest.approx(79 * MIN)
    # Bit-identical to the reference arithmetic on either backend.
    assert found["p90"] == interpolate([600.0, 1200.0, 1800.0, 6000.0], 0.9)


def test_one_open_incident_counts_but_has_no_resolution_time(paris):
    started = at("2026-03-18 09:00")
    IncidentFactory(
        team=paris,
        started_at=started,
        detected_at=started + dt.timedelta(minutes=4),
        acknowledged_at=started + dt.timedelta(minutes=9),
    )
    rel = metrics.period_figures(scope_of(paris))["reliability"]
    assert rel["incidents"] == 1
    assert rel["unresolved_incidents"] == 1
    assert rel["time_to_detect"] == {"median": 240.0, "p90": 240.0, "count": 1}
    assert rel["time_to_acknowledge"] == {"median": 300.0, "p90": 300.0, "count": 1}
    assert rel["time_to_resolve"] == {"median": None, "p90": None, "count": 0}
    assert rel["incidents_by_severity"] == {"SEV1": 0, "SEV2": 0, "SEV3": 1, "SEV4": 0}


def test_weekly_buckets_follow_the_team_time_zone_across_the_spring_dst_change(paris):
    # Paris moves from UTC+1 to UTC+2 on Sunday 2026-03-29 at 01:00 UTC.
    incident(paris, "2026-03-29 00:30")  # Sunday 01:30 CET → week of 23 March
    incident(paris, "2026-03-29 21:30")  # Sunday 23:30 CEST → week of 23 March
    incident(paris, "2026-03-29 22:30")  # Monday 00:30 CEST → week of 30 March (UTC would say 23 March)
    incident(paris, "2026-03-15 23:30")  # Monday 16 March 00:30 CET → first week
    scope = scope_of(paris)
    weekly = metrics.weekly_series(scope)
    assert weekly["weeks"] == [dt.date(2026, 3, 16), dt.date(2026, 3, 23), dt.date(2026, 3, 30)]
    assert weekly["series"]["incidents"]["values"] == [1, 2, 1]
    assert weekly["timezone"] == "Europe/Paris"
    # The range is 3 weeks minus the hour lost at the change.
    assert scope.duration == dt.timedelta(weeks=3, hours=-1)


def test_weekly_buckets_follow_the_team_time_zone_across_the_autumn_dst_change(paris):
    # Paris moves from UTC+2 to UTC+1 on Sunday 2026-10-25 at 01:00 UTC.
    incident(paris, "2026-10-25 22:30")  # Sunday 23:30 CET → week of 19 October
    incident(paris, "2026-10-25 23:30")  # Monday 00:30 CET → week of 26 October
    incident(paris, "2026-10-18 22:30")  # Monday 19 October 00:30 CEST → week of 19 October
    weekly = metrics.weekly_series(scope_of(paris, "2026-10-19", "2026-11-01"))
    assert weekly["weeks"] == [dt.date(2026, 10, 19), dt.date(2026, 10, 26)]
    assert weekly["series"]["incidents"]["values"] == [2, 1]


def test_incidents_per_week_by_severity_with_weekly_durations(paris):
    incident(paris, "2026-03-17 08:00", severity="SEV1", mitigated_at=at("2026-03-17 09:00"))
    incident(paris, "2026-03-18 08:00", severity="SEV1", mitigated_at=at("2026-03-18 08:30"))
    incident(paris, "2026-03-31 08:00", severity="SEV2")
    series = metrics.weekly_series(scope_of(paris))["series"]
    assert series["incidents_sev1"]["values"] == [2, 0, 0]
    assert series["incidents_sev2"]["values"] == [0, 0, 1]
    # Median of 3600 s and 1800 s = 2700 s, from 2 incidents; no value for weeks without a mitigation.
    assert series["time_to_mitigate_p50"]["values"] == [2700.0, None, None]
    assert series["time_to_mitigate_p50"]["counts"] == [2, 0, 0]


def test_the_repeat_incident_rate_counts_repeats_of_a_problem_and_names_the_service_figure_apart(paris):
    gateway, billing, search, auth = (ServiceFactory(team=paris) for _ in range(4))
    problem = ProblemFactory(team=paris)
    first = incident(paris, "2026-03-16 08:00", service=gateway, problem=problem)
    incident(paris, "2026-03-20 08:00", service=gateway)  # repeat: same service 4 days later
    incident(paris, "2026-03-25 08:00", service=billing, problem=problem)  # repeat: same problem 9 days later
    factor_first = incident(paris, "2026-03-17 08:00", service=search)
    factor_again = incident(paris, "2026-03-30 08:00", service=auth)  # repeat: same factor category
    ContributingFactorFactory(postmortem=PostmortemFactory(incident=factor_first), category="capacity")
    ContributingFactorFactory(postmortem=PostmortemFactory(incident=factor_again), category="capacity")
    incident(paris, "2026-02-01 08:00", service=auth)  # 57 days before factor_again: too old, and out of range
    assert first.problem == problem
    found = metrics.period_figures(scope_of(paris))["reliability"]["repeat_incident_rate"]
    assert (found["by_service"], found["by_problem"], found["by_factor_category"]) == (1, 1, 1)
    # Headline: only the incident of a problem that already had one within 30 days.
    assert (found["count"], found["of"], found["window_days"]) == (1, 5, 30)
    assert found["value"] == pytest.approx(1 / 5)
    busy = metrics.period_figures(scope_of(paris))["reliability"]["same_service_repeat_rate"]
    assert (busy["count"], busy["of"]) == (1, 5)


def test_the_repeat_window_is_configurable(paris, settings):
    problem = ProblemFactory(team=paris)
    incident(paris, "2026-03-16 08:00", problem=problem)
    incident(paris, "2026-03-30 08:00", problem=problem)  # 14 days later
    settings.OPSKAIZEN_REPEAT_WINDOW_DAYS = 10
    assert metrics.period_figures(scope_of(paris))["reliability"]["repeat_incident_rate"]["count"] == 0
    settings.OPSKAIZEN_REPEAT_WINDOW_DAYS = 30
    assert metrics.period_figures(scope_of(paris))["reliability"]["repeat_incident_rate"]["count"] == 1


def test_mtbf_per_service_is_hours_in_the_period_over_incidents(paris):
    gateway, quiet = ServiceFactory(team=paris, name="gateway"), ServiceFactory(team=paris, name="quiet")
    incident(paris, "2026-03-17 08:00", service=gateway)
    incident(paris, "2026-04-01 08:00", service=gateway)
    mtbf = {row["name"]: row for row in metrics.period_figures(scope_of(paris))["reliability"]["mtbf"]}
    # 16 March → 6 April in Paris is 21 days minus the DST hour = 503 h, two failures.
    assert mtbf["gateway"]["incidents"] == 2
    assert mtbf["gateway"]["mtbf_hours"] == pytest.approx(503 / 2)
    assert mtbf["quiet"] == {"service": quiet.pk, "name": "quiet", "team": paris.pk, "incidents": 0, "mtbf_hours": None}


def test_service_scope_only_counts_that_service(paris):
    gateway, other = ServiceFactory(team=paris), ServiceFactory(team=paris)
    incident(paris, "2026-03-17 08:00", service=gateway)
    incident(paris, "2026-03-17 09:00", service=other)
    scope = scope_of(paris, service=gateway)
    assert metrics.period_figures(scope)["reliability"]["incidents"] == 1


def test_other_teams_incidents_are_not_counted(paris):
    incident(paris, "2026-03-17 08:00")
    incident(TeamFactory(timezone="Europe/Paris"), "2026-03-17 08:00")
    assert metrics.period_figures(scope_of(paris))["reliability"]["incidents"] == 1


def test_query_count_does_not_grow_with_rows_or_weeks(paris, django_assert_num_queries):
    scope = scope_of(paris, "2026-01-05", "2026-04-05")
    with django_assert_num_queries(5):
        metrics.weekly_series(scope)
    with django_assert_num_queries(8):  # one per source, the factor-category repeats, the MTBF per service
        metrics.period_figures(scope)
    for day in range(1, 60):
        incident(paris, f"2026-02-{day % 28 + 1:02d} 08:00", mitigated_at=at("2026-03-30 00:00"))
    with django_assert_num_queries(5):
        metrics.weekly_series(scope)
    with django_assert_num_queries(8):
        metrics.period_figures(scope)


def test_percentiles_are_bit_identical_to_the_reference_with_microsecond_durations(paris):
    """The same floats on SQLite and PostgreSQL: both must equal interpolate() over the exact seconds."""
    import random

    rng = random.Random(7)
    durations = []
    for n in range(23):
        started = at("2026-03-17 08:00") + dt.timedelta(hours=n)
        took = dt.timedelta(microseconds=rng.randint(1, 10**11))
        durations.append((took // dt.timedelta(microseconds=1)) / 1_000_000)
        IncidentFactory(team=paris, started_at=started, detected_at=started, mitigated_at=started + took)
    found = metrics.period_figures(scope_of(paris))["reliability"]["time_to_mitigate"]
    assert found["median"] == interpolate(durations, 0.5)
    assert found["p90"] == interpolate(durations, 0.9)
    assert found["count"] == 23
