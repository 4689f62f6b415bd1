"""XmR limits, the two signal rules, signals_for_team and the dashboard structure."""

import datetime as dt
import json

import pytest

from reporting import metrics
from reporting.metrics import control
from tests.factories import IncidentFactory, TeamFactory
from tests.reporting.metrics_data import at


def test_xmr_limits_match_a_hand_computation():
    # Points 2 4 3 5 4 3 2 12: mean 35/8 = 4.375; moving ranges 2 1 2 1 1 1 10 → mR̄ = 18/7;
    # upper = 4.375 + 2.66 × 18/7 = 11.215…; lower = 4.375 − 6.84 < 0 → no lower limit.
    limits = control.xmr_limits([2, 4, 3, 5, 4, 3, 2, 12])
    assert limits["centre"] == pytest.approx(4.375)
    assert limits["moving_range"] == pytest.approx(18 / 7)
    assert limits["upper"] == pytest.approx(4.375 + 2.66 * 18 / 7)
    assert limits["lower"] is None


def test_last_point_beyond_the_upper_limit_is_a_signal():
    values = [2, 4, 3, 5, 4, 3, 2, 12]
    found = control.signals(values, control.xmr_limits(values))
    assert found == [
        {
            "rule": "beyond_limit",
            "which": "upper",
            "limit": pytest.approx(11.215, abs=1e-3),
            "direction": "above",
            "value": 12,
        }
    ]


def test_a_run_of_eight_below_the_centre_line_is_a_signal_without_a_point_beyond_limits():
    # Mean 11.625; mR̄ = (7 × 4 + 3 + 7 × 0.5) / 15 = 2.3 → limits 5.507 … 17.743: the last eight are inside
    # the limits but all below the centre line.
    values = [10, 14] * 4 + [11, 11.5] * 4
    limits = control.xmr_limits(values)
    assert limits["centre"] == pytest.approx(11.625)
    assert limits["lower"] == pytest.approx(11.625 - 2.66 * 2.3)
    found = control.signals(values, limits)
    assert [(s["rule"], s["which"], s["direction"]) for s in found] == [("run_of_8", "centre", "below")]
    assert found[0]["limit"] == pytest.approx(11.625)


def test_noise_raises_no_signal_and_too_few_points_have_no_limits():
    values = [3, 5, 4, 6, 3, 5, 4, 5]
    assert control.signals(values, control.xmr_limits(values)) == []
    assert control.xmr_limits([1, 2, None, 3, 4, None]) is None  # 4 points with a value
    assert control.signals([1, 2, 3], None) == []


def test_missing_weeks_are_skipped_not_counted_as_zero():
    limits = control.xmr_limits([None, 2, 2, None, 2, 2, 2, 2])
    assert limits["points"] == 6
    assert limits["centre"] == 2
    assert limits["moving_range"] == 0


@pytest.mark.django_db
def test_signals_for_team_flags_an_incident_spike_in_the_last_complete_week():
    team = TeamFactory(timezone="Europe/Paris")
    now = at("2026-04-08 12:00")  # Wednesday: the last complete week is 30 March – 5 April
    last_week = dt.date(2026, 3, 30)
    for week in range(1, 26):  # 25 calm weeks alternating 1 and 2 incidents
        monday = dt.datetime(2026, 3, 30, 10, tzinfo=dt.UTC) - dt.timedelta(weeks=week)
        for n in range(1 + week % 2):
            started = monday + dt.timedelta(hours=n)
            IncidentFactory(team=team, started_at=started, detected_at=started)
    for n in range(9):
        started = at("2026-03-31 10:00") + dt.timedelta(hours=n)
        IncidentFactory(team=team, started_at=started, detected_at=started)
    IncidentFactory(team=team, started_at=at("2026-04-07 10:00"), detected_at=at("2026-04-07 10:00"))  # this week
    found = [s for s in metrics.signals_for_team(team, now=now) if s["metric"] == "incidents"]
    assert len(found) == 1
    signal = found[0]
    assert signal["week"] == last_week.isoformat()
    assert signal["value"] == 9
    assert (signal["rule"], signal["which"]) == ("beyond_limit", "upper")
    assert signal["limit"] < 9
    assert signal["label"] == "Incidents"
    assert json.loads(json.dumps(found)) == found  # plain JSON: fit for a frozen agenda


@pytest.mark.django_db
def test_team_dashboard_has_figures_series_limits_and_signals():
    team = TeamFactory()
    board = metrics.team_dashboard(team, now=at("2026-04-08 12:00"))
    assert set(board) == {"figures", "weeks", "timezone", "series", "signals"}
    assert len(board["weeks"]) == 26
    assert board["weeks"][-1] == dt.date(2026, 3, 30)
    incidents = board["series"]["incidents"]
    assert incidents["values"] == [0] * 26
    assert incidents["limits"]["centre"] == 0
    assert incidents["pole"] == "reliability"
    assert set(board["figures"]) >= {"reliability", "speed", "flexibility", "health", "dora"}
    assert board["signals"] == []
