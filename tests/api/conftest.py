"""Fixtures for the API and webhook tests: tokens, clients and a populated pair of teams."""

import datetime as dt

import pytest
from django.utils import timezone

from rituals.models import ReviewSession
from tests import factories


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


@pytest.fixture(autouse=True)
def _fresh_throttle_cache(fresh_throttle_cache):
    """Every API and hook test starts with empty throttle counters (the fixture is in tests/conftest.py)."""
