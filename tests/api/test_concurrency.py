"""On PostgreSQL, concurrent writers of the same reference or delivery still leave one row (constraints + retry)."""

import datetime as dt
import json
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import Incident
from incidents.services import upsert_incident_by_ref
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks import generic
from integrations.webhooks.processing import drain_inbox, receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(work, n=4):
    barrier, errors = threading.Barrier(n), []

    def runner():
        try:
            barrier.wait()
            work()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_upserts_of_one_reference_make_one_incident(team):
    started = timezone.now() - dt.timedelta(hours=1)
    errors = run_together(
        lambda: upsert_incident_by_ref(
            team=team, source="pagerduty", external_id="Q1", title="Latency", started_at=started
        )
    )
    assert errors == []
    assert Incident.objects.filter(team=team, source="pagerduty", external_id="Q1").count() == 1


def test_the_same_delivery_arriving_concurrently_is_processed_once(team):
    integration = create_integration(team=team, source="generic")
    body = json.dumps(
        {
            "id": "evt-race",
            "type": "incident",
            "data": {"external_id": "RACE-1", "title": "Race", "started_at": "2026-01-01T10:00:00Z"},
        }
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        generic.TIMESTAMP_HEADER: timestamp,
        generic.SIGNATURE_HEADER: generic.sign(integration.secret, timestamp, body),
    }
    statuses = []
    errors = run_together(lambda: statuses.append(receive(integration, headers, body).status))
    assert errors == []
    assert sorted(statuses) == [200, 200, 200, 202]  # one accepted, three duplicates
    outcomes = sorted(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes == ["duplicate", "duplicate", "duplicate", "queued"]
    assert drain_inbox() == 1
    assert Incident.objects.filter(external_id="RACE-1").count() == 1
