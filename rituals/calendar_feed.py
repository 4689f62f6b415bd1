"""The iCal feed of a team's rituals, at a secret, revocable address: /calendar/<token>.ics.

Each coming occurrence is its own VEVENT (the same occurrences the tick opens, so a calendar
never disagrees with the review board), with DTSTART/DTEND in the ritual's time zone (TZID, and
the VTIMEZONE it needs). A revoked or unknown token is a 404; a token only ever shows its own
team's rituals.
"""

import datetime as dt
import zoneinfo

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from icalendar import Calendar, Event

from rituals import occurrences
from rituals.models import CalendarFeed, Ritual

PAST = dt.timedelta(days=7)
HORIZON = dt.timedelta(days=120)


def feed_calendar(feed: CalendarFeed, *, now: dt.datetime | None = None) -> Calendar:
    """The calendar of `feed`'s team: occurrences from a week ago to four months ahead."""
    now = now or timezone.now()
    team = feed.team
    calendar = Calendar()
    calendar.add("prodid", "-//OpsKaizen//Rituals//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", _("%(team)s rituals") % {"team": team.name})
    stamp = now.astimezone(dt.UTC).replace(microsecond=0)
    for ritual in Ritual.objects.filter(team=team, active=True).order_by("pk"):
        tz = zoneinfo.ZoneInfo(ritual.timezone)
        try:
            coming = occurrences.occurrences_between(ritual, now - PAST, now + HORIZON)
        except (ValueError, TypeError):
            continue  # a broken RRULE saved around validation: leave it out rather than break the feed
        for occurrence in coming:
            start = occurrence.astimezone(tz)
            event = Event()
            event.add("uid", f"ritual-{ritual.pk}-{occurrence:%Y%m%dT%H%M%SZ}@opskaizen")
            event.add("dtstamp", stamp)
            event.add("dtstart", start)
            event.add("dtend", start + dt.timedelta(minutes=ritual.duration_minutes))
            event.add("summary", f"{ritual.name} ({team.name})")
            event.add("description", ritual.get_kind_display())
            event.add("categories", [ritual.kind])
            calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar


@require_GET
def calendar_feed(request, token: str):
    feed = CalendarFeed.objects.select_related("team").filter(token=token, revoked_at__isnull=True).first()
    if feed is None:
        raise Http404
    response = HttpResponse(feed_calendar(feed).to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{feed.team.slug}-rituals.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
