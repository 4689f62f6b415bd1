"""Recurrence by alert fingerprint: the same alert firing after standardisation is the same cause.

Delivered as Alertmanager sends it (tests/integrations/test_alertmanager.py's payload), so the
fingerprint comes from the alerting source, through the hook and the drain.
"""

import copy

import pytest

from improvement.models import Action, Recurrence
from incidents.models import Incident
from integrations.models import Integration
from integrations.services import create_integration
from tests.factories import IncidentFactory, ServiceFactory
from tests.improvement.test_recurrence import standardised
from tests.integrations.test_alertmanager import notification, send
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db

FINGERPRINT = "c4a5f6d1e2b3a4f5"  # the first alert of the notification


def firing_after_standardisation(fingerprint=FINGERPRINT):
    body = copy.deepcopy(notification(alerts=[0]))
    alert = body["alerts"][0]
    alert["startsAt"] = "2026-03-10T08:00:00Z"
    alert["fingerprint"] = fingerprint
    alert["labels"].pop("service")  # no service: only the fingerprint can match
    return body


@pytest.fixture
def action_on_that_alert():
    """Standardised after an incident of that alert (on another service than any new one)."""
    action = standardised()
    earlier = IncidentFactory(
        team=action.team,
        service=ServiceFactory(team=action.team),
        fingerprint=FINGERPRINT,
        started_at=at("2026-01-01 08:00"),
    )
    action.incidents.add(earlier)
    return action


def test_the_same_alert_firing_again_reopens_the_action_as_the_same_cause(
    action_on_that_alert, django_capture_on_commit_callbacks
):
    action = action_on_that_alert
    hook = create_integration(team=action.team, source=Integration.Source.ALERTMANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        assert send(hook, firing_after_standardisation(), hook.bearer_token).status_code == 202
    incident = Incident.objects.get(team=action.team, source="alertmanager")
    assert (incident.fingerprint, incident.service) == (FINGERPRINT, None)
    link = Recurrence.objects.get(action=action, incident=incident)
    assert link.match == Recurrence.Match.EXACT
    assert "same alert" in link.reason and FINGERPRINT in link.reason
    assert Action.objects.get(previous_cycle=action).origin == "recurrence"


def test_another_alert_or_an_incident_without_fingerprint_is_no_recurrence(
    action_on_that_alert, django_capture_on_commit_callbacks
):
    action = action_on_that_alert
    hook = create_integration(team=action.team, source=Integration.Source.ALERTMANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        send(hook, firing_after_standardisation("0a1b2c3d4e5f6a7b"), hook.bearer_token)
        IncidentFactory(team=action.team, service=None, fingerprint="", started_at=at("2026-03-11 08:00"))
    assert not Recurrence.objects.filter(action=action).exists()
    assert not Action.objects.filter(previous_cycle=action).exists()


def test_the_same_alert_in_another_team_is_no_recurrence(
    action_on_that_alert, other_team, django_capture_on_commit_callbacks
):
    hook = create_integration(team=other_team, source=Integration.Source.ALERTMANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        send(hook, firing_after_standardisation(), hook.bearer_token)
    assert Incident.objects.get(team=other_team).fingerprint == FINGERPRINT
    assert not Recurrence.objects.exists()


def test_the_same_alert_in_a_batch_is_a_recurrence_too(action_on_that_alert, django_capture_on_commit_callbacks):
    """The batch upsert's prefilter (recurrence.may_recur) keeps the fingerprint rule of the one-row path."""
    from incidents import bulk

    action = action_on_that_alert
    row = {
        "external_id": "a-1",
        "title": "Same alert",
        "fingerprint": FINGERPRINT,
        "started_at": at("2026-03-10 08:00"),
    }
    with django_capture_on_commit_callbacks(execute=True):
        (outcome,) = bulk.upsert_incidents_by_ref(team=action.team, source="sheet", rows=[row])
    link = Recurrence.objects.get(action=action, incident=outcome.record)
    assert link.match == Recurrence.Match.EXACT and FINGERPRINT in link.reason
