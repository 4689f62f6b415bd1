"""The factor-category repeat count read once equals the correlated-subquery definition, on both databases."""

import datetime as dt
import random

import pytest
from django.db.models import Count

from incidents.measures import queries
from reporting import metrics
from tests.factories import ContributingFactorFactory, IncidentFactory, PostmortemFactory, ServiceFactory, TeamFactory
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db

CATEGORIES = ["change", "capacity", "dependency"]


def by_subquery(scope) -> int:
    condition = queries.repeat_conditions()["repeat_factor"]
    return queries.incidents(scope).aggregate(n=Count("id", filter=condition))["n"]


def seed(team, services, rng, *, n=60):
    """Incidents over ten weeks (ties and window edges included), a third with postmortems of 1–2 factors."""
    base = at("2026-02-01 00:00")
    for i in range(n):
        # Whole days for some, so that two incidents share a start and one sits exactly N days before another.
        started = base + (dt.timedelta(days=rng.randint(0, 70)) if i % 4 else dt.timedelta(hours=rng.randint(0, 1680)))
        found = IncidentFactory(team=team, service=rng.choice(services), started_at=started, detected_at=started)
        if rng.random() < 0.5:
            postmortem = PostmortemFactory(incident=found)
            for category in rng.sample(CATEGORIES, rng.randint(1, 2)):
                ContributingFactorFactory(postmortem=postmortem, category=category)


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_the_count_equals_the_correlated_subquery_for_every_scope_shape(seed_value):
    rng = random.Random(seed_value)
    paris, tokyo = TeamFactory(timezone="Europe/Paris"), TeamFactory(timezone="Asia/Tokyo")
    paris_services = [ServiceFactory(team=paris) for _ in range(3)]
    seed(paris, paris_services, rng)
    seed(tokyo, [ServiceFactory(team=tokyo) for _ in range(2)], rng)
    start, end = dt.date(2026, 2, 16), dt.date(2026, 3, 29)
    scopes = [
        metrics.build_scope(teams=paris, start=start, end=end),
        metrics.build_scope(teams=paris, service=paris_services[0], start=start, end=end),
        metrics.build_scope(teams=[paris, tokyo], start=start, end=end),
        metrics.build_scope(teams=tokyo, start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 1)),
    ]
    found = [(queries.repeat_factor_count(scope), by_subquery(scope)) for scope in scopes]
    assert all(mine == reference for mine, reference in found), found
    assert sum(mine for mine, _ in found) > 0  # the data does hold repeats


def test_an_earlier_incident_with_the_same_start_or_of_another_team_is_no_repeat():
    paris, other = TeamFactory(timezone="Europe/Paris"), TeamFactory()
    first = IncidentFactory(team=paris, started_at=at("2026-03-16 08:00"), detected_at=at("2026-03-16 08:00"))
    same = IncidentFactory(team=paris, started_at=at("2026-03-16 08:00"), detected_at=at("2026-03-16 08:00"))
    elsewhere = IncidentFactory(team=other, started_at=at("2026-03-10 08:00"), detected_at=at("2026-03-10 08:00"))
    for found in (first, same, elsewhere):
        ContributingFactorFactory(postmortem=PostmortemFactory(incident=found), category="capacity")
    scope = metrics.build_scope(teams=paris, start=dt.date(2026, 3, 16), end=dt.date(2026, 3, 22))
    assert queries.repeat_factor_count(scope) == by_subquery(scope) == 0
    later = IncidentFactory(team=paris, started_at=at("2026-03-18 08:00"), detected_at=at("2026-03-18 08:00"))
    ContributingFactorFactory(postmortem=PostmortemFactory(incident=later), category="capacity")
    assert queries.repeat_factor_count(scope) == by_subquery(scope) == 1
