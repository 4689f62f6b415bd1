"""A serializer the API is done with is freed by reference counting, not left to the cyclic collector.

A serializer and its bound fields point at each other; teams.api.base.release drops the fields
(cached, rebuilt on demand) once the answer's data is computed. Counted with the collector off:
what is still alive after the response is dropped would wait for it.
"""

import gc

import pytest
from rest_framework import serializers

from incidents.api import IncidentSerializer
from incidents.models import Incident
from teams.api.base import release
from tests import factories

pytestmark = pytest.mark.django_db


def serializers_holding_fields() -> int:
    """Serializers still holding their bound fields: what a request would leave in cycles.

    A released serializer may itself wait for the collector a while (the view and its response
    point at each other, as DRF builds them), without its fields.
    """
    return sum(
        issubclass(type(o), serializers.BaseSerializer) and "fields" in o.__dict__  # no lazy object evaluated
        for o in gc.get_objects()
    )


@pytest.fixture
def collector_off():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_writes_reads_and_refusals_leave_no_serializer_behind(team, make_client, collector_off):
    api, _token = make_client(team)
    before = serializers_holding_fields()
    body = {"title": "Payments 502s", "severity": "SEV2", "started_at": "2026-11-27T04:00:00Z"}
    answers = [
        api.put("/api/v1/incidents/by-ref/jira/OPS-1/", body, format="json"),  # created: 201
        api.put("/api/v1/incidents/by-ref/jira/OPS-1/", {"title": "Payments 503s"}, format="json"),  # updated
        api.put("/api/v1/incidents/by-ref/jira/OPS-2/", {"severity": "SEV9"}, format="json"),  # refused: 400
        api.get("/api/v1/incidents/"),  # a page
    ]
    assert [a.status_code for a in answers] == [201, 200, 400, 200]
    assert answers[1].json()["title"] == "Payments 503s"
    assert "severity" in answers[2].json()["errors"]
    assert [row["external_id"] for row in answers[3].json()["results"]] == ["OPS-1"]
    del answers
    assert serializers_holding_fields() == before


def test_a_released_serializer_rebuilds_its_fields_and_data_when_asked_again(team):
    incident = factories.IncidentFactory(team=team, title="Disk full")
    incident = Incident.objects.prefetch_related("timeline").get(pk=incident.pk)
    serializer = IncidentSerializer(incident)
    data = serializer.data
    nested = serializer.fields["timeline"]
    release(serializer)
    assert "fields" not in serializer.__dict__ and nested.child.parent is None  # unlinked: unreachable now
    assert serializer.data == data and data["title"] == "Disk full"
    assert serializer.fields["timeline"] is not nested and serializer.fields["timeline"].child.parent is not None
