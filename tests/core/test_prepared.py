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


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_on_postgresql_its_values_are_bound_by_the_server_which_keeps_it_prepared(team, settings):
    ServiceFactory(team=team, slug="gateway")
    assert settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] is not None  # no pooler: preparing is on
    connection.ensure_connection()
    for _ in range(connection.connection.prepare_threshold + 1):
        with CaptureQueriesContext(connection) as captured:
            assert LOOKUP.first("gateway").slug == "gateway"
        assert len(captured) == 1  # still one query, and still in Django's query log, with its value
        assert captured[0]["sql"].startswith("SELECT") and "'gateway'" in captured[0]["sql"]
    prepared = [s for s in _prepared_statements() if '"teams_service"' in s]
    assert len(prepared) == 1 and "$1" in prepared[0]  # one statement, its value a parameter
    assert LOOKUP.first("nothing") is None  # the prepared statement with another value
    assert not any('"teams_service"' in s for s in _prepared_statements() if "'gateway'" in s)


@pytest.mark.postgres
def test_where_the_connection_must_not_prepare_behind_a_transaction_pooler_nothing_is(team):
    # DATABASE_POOLER=transaction sets OPTIONS prepare_threshold to None: psycopg never prepares.
    ServiceFactory(team=team, slug="gateway")
    connection.ensure_connection()
    saved, connection.connection.prepare_threshold = connection.connection.prepare_threshold, None
    try:
        for _ in range(8):
            assert LOOKUP.first("gateway").slug == "gateway"
        assert not any('"teams_service"' in s for s in _prepared_statements())
    finally:
        connection.connection.prepare_threshold = saved


@pytest.mark.postgres
def test_django_cursors_are_never_prepared_only_the_prepared_lookups(team):
    # Everything else binds on the client, as Django does by default: psycopg cannot prepare those.
    ServiceFactory(team=team, slug="gateway")
    for _ in range(8):
        assert Service.objects.filter(slug="gateway").order_by().first() is not None
    assert not any('"teams_service"' in s for s in _prepared_statements())
