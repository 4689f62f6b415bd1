"""Template helpers of the web UI: the single-use form token and small display helpers."""

from django import template
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from core.once import ONCE_FIELD, new_once_token, submitted_once_token

register = template.Library()


@register.simple_tag(takes_context=True)
def once_token(context, form=None):
    """A hidden single-use token; `form` shown again with errors keeps the token it was sent with."""
    request = context.get("request")
    token = submitted_once_token(request) if form is not None and form.errors else new_once_token()
    return format_html('<input type="hidden" name="{}" value="{}">', ONCE_FIELD, token)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def get_field(form, name):
    """The bound field `name` of `form` (the move form shows only the fields a move needs)."""
    return form[name]


@register.simple_tag
def sparkline(values, limits=None, signal=None, label="", width=220, height=48):
    """A weekly series as an inline SVG: the line, the XmR centre and limits (dashed), the last point.

    Server-rendered, no script. The last point is drawn larger and, when it is a
    signal, marked with a ring; the text beside the chart says it in words too.
    """
    points = [(i, float(v)) for i, v in enumerate(values or []) if v is not None]
    if len(points) < 2:
        return format_html('<span class="muted small">{}</span>', _("not enough data yet"))
    guides = [limits.get(k) for k in ("centre", "upper", "lower")] if limits else []
    lows = [v for _i, v in points] + [g for g in guides if g is not None]
    top, bottom = max(lows), min(0.0, *lows)
    span = (top - bottom) or 1.0
    pad = 4
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def x(i):
        return round(pad + i * step, 1)

    def y(v):
        return round(height - pad - (v - bottom) / span * (height - 2 * pad), 1)

    segments, current = [], []
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x(i)},{y(float(value))}")
    if current:
        segments.append(current)
    parts = [format_html('<polyline class="line" points="{}"/>', " ".join(seg)) for seg in segments if len(seg) > 1]
    for key in ("centre", "upper", "lower"):
        value = limits.get(key) if limits else None
        if value is not None:
            parts.append(
                format_html(
                    '<line class="limit limit-{}" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                    key,
                    pad,
                    width - pad,
                    y(value),
                    y(value),
                )
            )
    last_i, last_v = points[-1]
    css = "point-signal" if signal else "point"
    parts.append(
        format_html('<circle class="{}" cx="{}" cy="{}" r="{}"/>', css, x(last_i), y(last_v), 4 if signal else 2.5)
    )
    body = format_html_join("", "{}", ((p,) for p in parts))
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        label,
        body,
    )


@register.filter
def duration(seconds):
    """Seconds as the largest sensible units: 45 s, 12 min, 3 h 20 min, 2.5 d."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return _("%(n)s s") % {"n": round(seconds)}
    if seconds < 3600:
        return _("%(n)s min") % {"n": round(seconds / 60)}
    if seconds < 48 * 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes} if minutes else _("%(h)s h") % {"h": hours}
    return _("%(n)s d") % {"n": formats.number_format(round(seconds / 86400, 1))}


@register.filter
def percent(value):
    if value is None or value == "":
        return "—"
    return f"{formats.number_format(round(float(value) * 100, 1))} %"


@register.simple_tag
def colon():
    """The ':' after a label, as the reader's language writes it (French puts a no-break space before it)."""
    return pgettext("label separator", ":")
