"""Fixtures for the API and webhook tests: tokens, clients and a populated pair of teams."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from improvement.models import ReviewSession
from teams.services import create_api_token
from tests import factories


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Factories hash a password per user; the default hasher costs ~0.3 s each on a shared 2-core machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def client_for(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def make_client():
    """make_client(team, scope="read_write", by=lead user) → (APIClient with a token, token)."""

    def make(team, scope="read_write", by=None):
        by = by or factories.MembershipFactory(team=team, role="lead").user
        token, key = create_api_token(team=team, name="test", scope=scope, by=by)
        return client_for(key), token

    return make


def populate(team):
    """One row of every kind the API serves, in `team`."""
    service = factories.ServiceFactory(team=team)
    membership = factories.MembershipFactory(team=team, role="member")
    incident = factories.IncidentFactory(team=team, service=service)
    factories.TimelineEventFactory(incident=incident)
    problem = factories.ProblemFactory(team=team)
    postmortem = factories.PostmortemFactory(incident=incident)
    factories.ContributingFactorFactory(postmortem=postmortem)
    change = factories.ChangeFactory(team=team, service=service)
    action = factories.ActionFactory(team=team, target_service=service)
    ritual = factories.RitualFactory(team=team)
    session = ReviewSession.objects.create(
        team=team, ritual=ritual, occurrence=timezone.now() - dt.timedelta(days=1), agenda={"incidents": []}
    )
    return {
        "team": team,
        "service": service,
        "membership": membership,
        "incident": incident,
        "problem": problem,
        "postmortem": postmortem,
        "change": change,
        "action": action,
        "ritual": ritual,
        "review_session": session,
    }


@pytest.fixture
def world(team, other_team):
    return {"a": populate(team), "b": populate(other_team)}
