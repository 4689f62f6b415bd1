"""PreparedLookup: a lookup compiled once returns what the queryset returns, for each value, in one query."""

import pytest
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.test.utils import CaptureQueriesContext

from core.prepared import PreparedLookup
from teams.models import Membership, Service
from tests.factories import MembershipFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def by_slug(slug):
    size = Membership.objects.filter(team=OuterRef("team_id")).order_by().values("team")[:1]
    return Service.objects.select_related("team").annotate(some_team=Subquery(size)).filter(slug=slug).order_by()[:1]


LOOKUP = PreparedLookup(Service, by_slug)


def test_it_returns_the_querysets_row_with_its_related_row_and_annotation_for_each_value(team, other_team):
    MembershipFactory(team=team)
    mine, theirs = ServiceFactory(team=team, slug="gateway"), ServiceFactory(team=other_team, slug="billing")
    for service in (mine, theirs, mine):  # compiled once, run with each value
        expected = by_slug(service.slug)[0]
        with CaptureQueriesContext(connection) as captured:
            found = LOOKUP.first(service.slug)
            assert (found.team.slug, found.team.created_at) == (service.team.slug, service.team.created_at)
        assert len(captured) == 1  # the team came with the row
        assert {f.attname: getattr(found, f.attname) for f in Service._meta.concrete_fields} == {
            f.attname: getattr(expected, f.attname) for f in Service._meta.concrete_fields
        }
        assert found.some_team == expected.some_team
        assert found._state.adding is False and found._state.db == "default"
    assert mine.team.pk == LOOKUP.first("gateway").some_team
    assert LOOKUP.first("billing").some_team is None  # no member in that team


def test_it_returns_none_when_nothing_matches(team):
    ServiceFactory(team=team, slug="gateway")
    assert LOOKUP.first("nothing") is None
    assert LOOKUP.first("gateway").slug == "gateway"
