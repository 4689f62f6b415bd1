"""What a metric is computed over: which teams, which service, which weeks, in which time zone."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from teams.models import Service, Team

DEFAULT_WEEKS = 26
MAX_WEEKS = 520


@dataclass(frozen=True)
class Scope:
    """Teams (already restricted to what the caller may see), an optional service, and whole weeks.

    `start` and `end` are aware datetimes at local Monday midnight in `tz`, `end`
    exclusive: a date range is widened to whole weeks so that every weekly bucket
    is a full week and the period figures cover exactly the same days.
    """

    team_ids: tuple[int, ...]
    service_id: int | None
    tz: zoneinfo.ZoneInfo
    start: dt.datetime
    end: dt.datetime

    @property
    def weeks(self) -> list[dt.date]:
        first, last = self.start.date(), self.end.date()
        return [first + dt.timedelta(weeks=i) for i in range((last - first).days // 7)]

    @property
    def duration(self) -> dt.timedelta:
        # Subtracting two datetimes of the same tzinfo gives wall-clock time: go through UTC
        # so that a week across a DST change counts its 167 or 169 real hours.
        return self.end.astimezone(dt.UTC) - self.start.astimezone(dt.UTC)

    @property
    def first_day(self) -> dt.date:
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        return self.end.date() - dt.timedelta(days=1)

    def filters(self, team_field: str = "team", service_field: str | None = "service") -> dict:
        """ORM filters restricting a queryset to this scope's teams and service."""
        found = {f"{team_field}_id__in": self.team_ids}
        if self.service_id is not None and service_field:
            found[f"{service_field}_id"] = self.service_id
        return found


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def build_scope(
    *,
    teams,
    service: Service | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Scope:
    """A Scope over `teams` (a Team, or an iterable/queryset of the teams the caller may see).

    `start`/`end` are local dates, both included, widened to whole weeks (Monday to
    Sunday). Defaults: the last 26 complete weeks before `now`. Weekly buckets
    follow the team's time zone; across teams in different zones they follow UTC.
    """
    if isinstance(teams, Team):
        rows = [(teams.pk, teams.timezone)]
    else:
        rows = [(team.pk, team.timezone) for team in teams] if isinstance(teams, list) else None
        if rows is None:
            rows = list(teams.values_list("pk", "timezone"))
    if service is not None:
        rows = [row for row in rows if row[0] == service.team_id]
    zones = {zone for _pk, zone in rows}
    tz = zoneinfo.ZoneInfo(zones.pop() if len(zones) == 1 else "UTC")
    today = timezone.localtime(now or timezone.now(), tz).date()
    if end is None:
        end = monday(today) - dt.timedelta(days=1)  # the last complete week ends last Sunday
    if start is None:
        start = monday(end) - dt.timedelta(weeks=DEFAULT_WEEKS - 1)
    if start > end:
        raise ValidationError({"from": _("The start of the range must not be after its end.")})
    first, after = monday(start), monday(end) + dt.timedelta(weeks=1)
    if (after - first).days // 7 > MAX_WEEKS:
        raise ValidationError({"from": _("The range may cover at most %(weeks)s weeks.") % {"weeks": MAX_WEEKS}})
    return Scope(
        team_ids=tuple(sorted(pk for pk, _zone in rows)),
        service_id=service.pk if service is not None else None,
        tz=tz,
        start=local_midnight(first, tz),
        end=local_midnight(after, tz),
    )
