"""The incident upsert's fast path (found by bench/ingest_bench.py) keeps every rule.

The upsert no longer reads a new incident back, validates the CHECK constraints in Python
(Incident.clean) and the unique constraint with one query: these tests pin what must not change.
"""

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from incidents import services
from incidents.models import Incident
from tests import factories

pytestmark = pytest.mark.django_db

T0 = "2026-01-01T10:00:00Z"


def test_created_by_ref_answer_equals_what_a_read_returns(make_client, team):
    api, _token = make_client(team)
    body = {"title": "Gateway down", "started_at": T0, "severity": "SEV1", "summary": "5xx"}
    created = api.put("/api/v1/incidents/by-ref/jira/OPS-1/", body, format="json")
    assert created.status_code == 201, created.json()
    read = api.get(f"/api/v1/incidents/{created.json()['id']}/")
    assert created.json() == read.json()
    assert created.json()["team"] == team.slug
    assert (created.json()["timeline"], created.json()["summary"]) == ([], "5xx")


def test_upsert_with_timestamps_out_of_order_is_a_400_naming_the_field(make_client, team):
    api, _token = make_client(team)
    body = {"title": "x", "started_at": T0, "detected_at": "2026-01-01T09:00:00Z"}
    response = api.put("/api/v1/incidents/by-ref/jira/OPS-2/", body, format="json")
    assert response.status_code == 400
    assert "detected_at" in response.json()["errors"]
    assert not Incident.objects.filter(external_id="OPS-2").exists()


def test_creating_a_duplicate_external_id_is_a_validation_error_not_an_integrity_error(team, other_team):
    incident = factories.IncidentFactory(team=team, source="pagerduty", external_id="P1")
    with pytest.raises(ValidationError) as excinfo:
        services.create_incident(team=team, title="again", started_at=incident.started_at, source="pagerduty",
                                 external_id="P1")  # fmt: skip
    assert NON_FIELD_ERRORS in excinfo.value.message_dict
    # Another team, or no external id at all: no uniqueness.
    services.create_incident(team=other_team, title="x", started_at=incident.started_at, source="pagerduty",
                             external_id="P1")  # fmt: skip
    services.create_incident(team=team, title="a", started_at=incident.started_at)
    services.create_incident(team=team, title="b", started_at=incident.started_at)
    # An update of the incident itself does not collide with itself.
    services.update_incident(incident=incident, title="renamed")
    assert Incident.objects.filter(team=team, source="pagerduty", external_id="P1").count() == 1


def test_upsert_ingest_runs_a_fixed_small_number_of_queries(make_client, team, django_assert_max_num_queries):
    api, _token = make_client(team)
    api.put("/api/v1/incidents/by-ref/jira/OPS-3/", {"title": "warm", "started_at": T0}, format="json")
    with django_assert_max_num_queries(14):  # ~40 before the benchmark
        response = api.put("/api/v1/incidents/by-ref/jira/OPS-4/", {"title": "x", "started_at": T0}, format="json")
    assert response.status_code == 201


def test_the_benchmark_baseline_view_is_not_mounted_outside_the_benchmark(client, team):
    body = '{"title": "x", "started_at": "2026-01-01T10:00:00Z"}'
    response = client.put(f"/bench-baseline/{team.pk}/src/EXT-1/", body, content_type="application/json")
    assert response.status_code == 404
    assert not Incident.objects.filter(external_id="EXT-1").exists()


def test_serializer_fields_are_copied_per_instance_never_shared():
    """ModelSerializer builds its fields once per class; each instance still gets its own, bound to itself."""
    from incidents.api import IncidentSerializer

    first, second = IncidentSerializer(context={"n": 1}), IncidentSerializer(context={"n": 2})
    assert first.fields.keys() == second.fields.keys()
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["service"].context == {"n": 1} and second.fields["service"].context == {"n": 2}
    timeline_child = first.fields["timeline"].child
    assert timeline_child is not second.fields["timeline"].child
    assert timeline_child.root is first
    # Each field's own lists and dicts (validators, error messages, style) are copies, not the template's.
    for name in ("title", "severity", "started_at"):
        mine, theirs = first.fields[name], second.fields[name]
        assert mine.validators is not theirs.validators and mine.error_messages is not theirs.error_messages
        mine.validators.append(lambda value: None)
        assert len(mine.validators) == len(theirs.validators) + 1
