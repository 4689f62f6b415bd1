"""A large file's dry run and import on a real Celery worker, over the real Redis and PostgreSQL.

The page hands the run to the worker and polls its progress, which the worker writes to the
shared cache (Redis) while its transaction is still invisible.
"""

import time

import pytest
from django.urls import reverse

from imports import services
from imports.models import ImportRun
from incidents.models import Incident
from tests import factories
from tests.imports.conftest import upload
from tests.rituals.test_ritual_worker import empty_queue, workers  # noqa: F401 - fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def wait_for_state(run, state, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state == state:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run still {run.state} after {timeout}s: {run.error}")


def test_a_worker_runs_the_dry_run_and_the_import(client, settings, workers):  # noqa: F811
    settings.OPSKAIZEN_IMPORT_BACKGROUND_ROWS = 1
    team = factories.TeamFactory()
    factories.ServiceFactory(team=team, name="Checkout", slug="checkout")
    factories.ServiceFactory(team=team, name="Payments", slug="payments")
    lead = factories.MembershipFactory(team=team, role="lead").user
    client.force_login(lead)
    workers("imports")
    run = upload(team, lead, "jira_incidents.csv")
    data = {f"column_{field}": column for field, column in run.columns.items()} | {"timezone": "UTC"}
    assert client.post(reverse("imports:run", args=[team.slug, run.pk]), data).status_code == 302
    run = wait_for_state(run, ImportRun.State.CHECKED)
    assert (run.created, run.refused) == (3, 0)
    assert not Incident.objects.exists()
    progress = client.get(reverse("imports:progress", args=[team.slug, run.pk]))
    assert progress["HX-Refresh"] == "true"
    assert client.post(reverse("imports:run_import", args=[team.slug, run.pk])).status_code == 302
    run = wait_for_state(run, ImportRun.State.IMPORTED)
    assert Incident.objects.filter(team=team, source="jira").count() == 3
    assert services.progress_of(run) == run.rows
