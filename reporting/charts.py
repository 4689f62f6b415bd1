"""Server-rendered SVG charts of weekly series: axes, values, labelled control limits, focusable points.

No script (the CSP allows none inline): every point is a focusable circle with a <title> and an
aria-label, so a keyboard or a screen reader reads each week; a data table follows each chart.
Charts of one panel share their weeks and their width, so their x axes line up.
"""

from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from core.templatetags.opskaizen import duration, percent

WIDTH, HEIGHT = 640, 150
LEFT, RIGHT, TOP, BOTTOM = 64, 56, 10, 22


def format_series_value(series: dict, value) -> str:
    """A weekly value in the series' unit: a duration, a percentage, a ratio (×) or a count."""
    if value is None:
        return "—"
    if series["unit"] == "seconds":
        return duration(value)
    if series["unit"] == "ratio":
        if series["key"] == "lead_time_spread":
            return f"× {formats.number_format(round(value, 1))}"
        return percent(value)
    if float(value).is_integer():
        return formats.number_format(int(value))
    return formats.number_format(round(value, 1))


def week_label(week) -> str:
    return formats.date_format(week, "Y-m-d")


def line_chart(series: dict, weeks: list, *, chart_id: str) -> str:
    """One series as an SVG line chart with its y axis, its week axis and its XmR lines labelled."""
    values = series["values"]
    limits = series["limits"] or {}
    drawn = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    guides = [limits.get(k) for k in ("centre", "upper", "lower") if limits.get(k) is not None]
    top = max([v for _i, v in drawn] + guides + [0.0]) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(weeks) - 1, 1)

    def x(i):
        return round(LEFT + i * step, 1)

    def y(v):
        return round(TOP + plot_h - v / top * plot_h, 1)

    parts = [
        format_html('<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, LEFT, TOP, TOP + plot_h),
        format_html('<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, y(0), y(0)),
        format_html('<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 4, y(0) + 4, "0"),
        format_html(
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
            LEFT - 4,
            TOP + 8,
            format_series_value(series, top),
        ),
    ]
    for i in sorted({0, (len(weeks) - 1) // 2, len(weeks) - 1}):
        anchor = "start" if i == 0 else "end" if i == len(weeks) - 1 else "middle"
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="{}">{}</text>',
                x(i),
                HEIGHT - 6,
                anchor,
                week_label(weeks[i]),
            )
        )
    names = {"upper": _("UCL"), "centre": _("CL"), "lower": _("LCL")}
    for key, name in names.items():
        value = limits.get(key)
        if value is None:
            continue
        parts.append(
            format_html(
                '<line class="limit limit-{}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="limit-label" x="{}" y="{}">{} {}</text>',
                key,
                LEFT,
                WIDTH - RIGHT,
                y(value),
                y(value),
                WIDTH - RIGHT + 4,
                y(value) + 4,
                name,
                format_series_value(series, value),
            )
        )
    segment = []
    for i, value in enumerate([*values, None]):
        if value is not None:
            segment.append(f"{x(i)},{y(float(value))}")
            continue
        if len(segment) > 1:
            parts.append(format_html('<polyline class="line" points="{}"/>', " ".join(segment)))
        segment = []
    signal_week = len(values) - 1 if series["signals"] else None
    for i, value in drawn:
        text = _("Week of %(week)s: %(value)s") % {
            "week": week_label(weeks[i]),
            "value": format_series_value(series, value),
        }
        css = "pt pt-signal" if i == signal_week else "pt"
        parts.append(
            format_html(
                '<circle class="{}" cx="{}" cy="{}" r="{}" tabindex="0" role="img" aria-label="{}">'
                "<title>{}</title></circle>",
                css,
                x(i),
                y(value),
                5 if i == signal_week else 3.5,
                text,
                text,
            )
        )
    return format_html(
        '<svg class="chart" id="{}" viewBox="0 0 {} {}" role="group" aria-label="{}"><title>{}</title>{}</svg>',
        chart_id,
        WIDTH,
        HEIGHT,
        series["label"],
        series["label"],
        format_html_join("", "{}", ((part,) for part in parts)),
    )


def data_table(series_list: list[dict], weeks: list) -> str:
    """The charts' values as a table: one row per week, one column per series (the count behind in brackets)."""
    head = format_html_join("", '<th scope="col">{}</th>', ((s["label"],) for s in series_list))
    rows = []
    for i, week in enumerate(weeks):
        cells = format_html_join(
            "",
            "<td>{}</td>",
            ((_cell(series, i),) for series in series_list),
        )
        rows.append(format_html('<tr><th scope="row">{}</th>{}</tr>', week_label(week), cells))
    return format_html(
        '<div class="table-wrap"><table class="chart-data"><thead><tr><th scope="col">{}</th>{}</tr></thead>'
        "<tbody>{}</tbody></table></div>",
        _("Week of"),
        head,
        format_html_join("", "{}", ((row,) for row in rows)),
    )


def _cell(series: dict, i: int) -> str:
    text = format_series_value(series, series["values"][i])
    count = series["counts"][i]
    return f"{text} ({count})" if count is not None and series["values"][i] is not None else text
