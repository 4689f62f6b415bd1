"""Template helpers: the server-rendered sparkline and the human units of the dashboard."""

from core.templatetags.opskaizen import duration, percent, sparkline


def test_sparkline_draws_the_line_the_limits_and_marks_a_signal():
    svg = sparkline([1, 2, None, 3, 9], {"centre": 3, "upper": 7, "lower": None}, signal=True, label="Incidents")
    assert svg.startswith('<svg class="sparkline"') and 'role="img"' in svg and 'aria-label="Incidents"' in svg
    assert svg.count("<polyline") == 2  # a week without a value breaks the line
    assert 'class="limit limit-centre"' in svg and 'class="limit limit-upper"' in svg
    assert "limit-lower" not in svg
    assert 'class="point-signal"' in svg


def test_sparkline_without_enough_points_says_so():
    assert "not enough data yet" in sparkline([None, 4])


def test_sparkline_escapes_its_label():
    assert "<script>" not in sparkline([1, 2], label="<script>")


def test_durations_and_percentages_read_like_an_ops_engineer_would_say_them():
    assert [duration(v) for v in (30, 600, 3600 * 3 + 1200, 3600 * 2, 86400 * 3)] == [
        "30 s",
        "10 min",
        "3 h 20 min",
        "2 h",
        "3.0 d",
    ]
    assert duration(None) == "—"
    assert percent(0.125) == "12.5 %"
    assert percent(None) == "—"
