"""Incident timestamps, statuses and uniqueness, in the service and in the database."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services
from incidents.models import Incident, Postmortem, TimelineEvent
from tests.factories import (
    ContributingFactorFactory,
    IncidentFactory,
    MembershipFactory,
    PostmortemFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def minutes(n):
    return T0 + dt.timedelta(minutes=n)


def test_detected_at_defaults_to_started_at(team):
    incident = services.create_incident(team=team, title="Gateway down", started_at=T0)
    assert incident.detected_at == T0


@pytest.mark.parametrize(
    ("fields", "field_at_fault"),
    [
        ({"detected_at": minutes(-1)}, "detected_at"),
        ({"detected_at": minutes(10), "acknowledged_at": minutes(5)}, "acknowledged_at"),
        ({"detected_at": minutes(10), "mitigated_at": minutes(5)}, "mitigated_at"),
        ({"mitigated_at": minutes(30), "resolved_at": minutes(20)}, "resolved_at"),
    ],
)
def test_timestamps_out_of_order_are_refused_on_the_field_at_fault(team, fields, field_at_fault):
    with pytest.raises(ValidationError) as excinfo:
        services.create_incident(team=team, title="Gateway down", started_at=T0, **fields)
    assert field_at_fault in excinfo.value.message_dict
    assert not Incident.objects.exists()


def test_acknowledgement_after_an_automatic_mitigation_is_allowed(team):
    incident = services.create_incident(
        team=team, title="Auto-failover", started_at=T0, mitigated_at=minutes(2), acknowledged_at=minutes(9)
    )
    assert incident.pk


def test_resolved_status_needs_a_resolution_time(team):
    with pytest.raises(ValidationError) as excinfo:
        services.create_incident(team=team, title="Gateway down", started_at=T0, status="resolved")
    assert "resolved_at" in excinfo.value.message_dict


def test_set_status_stamps_the_missing_timestamps_and_logs_the_change(team):
    incident = services.create_incident(team=team, title="Gateway down", started_at=T0)
    services.set_incident_status(incident=incident, status="resolved", at=minutes(45))
    incident.refresh_from_db()
    assert (incident.status, incident.mitigated_at, incident.resolved_at) == ("resolved", minutes(45), minutes(45))
    assert TimelineEvent.objects.filter(incident=incident, kind="status").count() == 1


def test_an_incident_cannot_be_linked_to_another_teams_service(team, other_team):
    foreign = ServiceFactory(team=other_team)
    with pytest.raises(ValidationError) as excinfo:
        services.create_incident(team=team, title="Gateway down", started_at=T0, service=foreign)
    assert "service" in excinfo.value.message_dict


def test_unknown_fields_are_refused(team):
    with pytest.raises(ValidationError) as excinfo:
        services.create_incident(team=team, title="x", started_at=T0, sevrity="SEV1")
    assert "sevrity" in excinfo.value.message_dict


def test_the_database_refuses_timestamps_out_of_order_even_without_the_service(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(team=team, title="raw", started_at=T0, detected_at=minutes(-5))


def test_source_and_external_id_are_unique_per_team(team, other_team):
    IncidentFactory(team=team, source="pagerduty", external_id="P123")
    IncidentFactory(team=other_team, source="pagerduty", external_id="P123")  # another team: fine
    IncidentFactory(team=team, source="manual", external_id="")
    IncidentFactory(team=team, source="manual", external_id="")  # no external id: no uniqueness
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentFactory(team=team, source="pagerduty", external_id="P123")


def test_postmortem_goes_to_review_only_with_summary_impact_and_a_factor():
    postmortem = PostmortemFactory(summary="", impact="")
    with pytest.raises(ValidationError) as excinfo:
        services.move_postmortem(postmortem=postmortem, to_status="in_review")
    assert {"summary", "impact", "factors"} <= set(excinfo.value.message_dict)
    assert Postmortem.objects.get(pk=postmortem.pk).status == "draft"


def test_postmortem_is_published_through_review_and_then_frozen():
    postmortem = ContributingFactorFactory().postmortem
    with pytest.raises(ValidationError):
        services.move_postmortem(postmortem=postmortem, to_status="published")
    services.move_postmortem(postmortem=postmortem, to_status="in_review")
    lead = MembershipFactory(team=postmortem.team, role="lead").user
    services.move_postmortem(postmortem=postmortem, to_status="published", by=lead)
    postmortem.refresh_from_db()
    assert postmortem.status == "published"
    assert postmortem.published_at is not None
    with pytest.raises(ValidationError):
        services.update_postmortem(postmortem=postmortem, summary="rewritten")
    assert Postmortem.objects.get(pk=postmortem.pk).summary != "rewritten"


def test_start_postmortem_is_idempotent():
    incident = IncidentFactory()
    first = services.start_postmortem(incident=incident)
    second = services.start_postmortem(incident=incident)
    assert first.pk == second.pk
    assert (first.status, first.team) == ("draft", incident.team)


def test_change_cannot_be_deployed_before_commit(team):
    now = timezone.now()
    with pytest.raises(ValidationError) as excinfo:
        services.create_change(team=team, title="Deploy", committed_at=now, deployed_at=now - dt.timedelta(hours=1))
    assert "deployed_at" in excinfo.value.message_dict


def test_an_upsert_older_than_the_last_applied_event_fills_gaps_and_never_moves_the_status(team):
    """By-ref upserts with the source's event time: the newest event's values win, whatever the arrival order."""
    ref = {"team": team, "source": "pagerduty", "external_id": "Q1"}
    incident, _ = services.upsert_incident_by_ref(**ref, title="Down", started_at=T0, event_at=minutes(30))
    services.set_incident_status(incident=incident, status="resolved", at=minutes(30), event_at=minutes(30))
    incident, _ = services.upsert_incident_by_ref(
        **ref, title="Slow", severity="SEV4", acknowledged_at=minutes(5), status="open", event_at=minutes(1)
    )
    assert (incident.title, incident.status, incident.acknowledged_at) == ("Down", "resolved", minutes(5))
    assert incident.source_event_at == minutes(30)
    services.set_incident_status(incident=incident, status="open", event_at=minutes(2))  # older: skipped
    incident.refresh_from_db()
    assert incident.status == "resolved"
    incident, _ = services.upsert_incident_by_ref(**ref, title="Down again", status="open", event_at=minutes(45))
    assert (incident.title, incident.status, incident.source_event_at) == ("Down again", "open", minutes(45))
