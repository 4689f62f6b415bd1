"""/metrics: one scrape credential for the instance, the product's health and each team's key figures."""

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.urls import reverse

from config import health
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from reporting import metrics
from reporting.exposition import CACHE_KEY
from teams.services import create_api_token
from tests.factories import ActionFactory, ChangeFactory, IncidentFactory, ServiceFactory, TeamFactory
from tests.reporting.test_dashboard_page import last_complete_monday

pytestmark = pytest.mark.django_db
TOKEN = "scrape-credential-for-tests"


@pytest.fixture(autouse=True)
def scrape_token(settings):
    settings.METRICS_SCRAPE_TOKEN = TOKEN
    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


def scrape(client, token=TOKEN):
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")


def sample(text: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{name}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


def history(team):
    service = ServiceFactory(team=team)
    monday = last_complete_monday()
    for i in range(5):
        start = dt.datetime.combine(monday - dt.timedelta(weeks=i), dt.time(9), tzinfo=dt.UTC)
        IncidentFactory(
            team=team, service=service, started_at=start, mitigated_at=start + dt.timedelta(minutes=10 * i + 5)
        )
        ChangeFactory(team=team, service=service, deployed_at=start, failed=i < 2)


def test_without_the_setting_metrics_are_not_exposed(client, settings):
    settings.METRICS_SCRAPE_TOKEN = ""
    assert scrape(client, "").status_code == 404


def test_a_missing_or_wrong_credential_is_refused(client):
    assert client.get("/metrics").status_code == 403
    assert scrape(client, "not-it").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 403  # the scheme is needed


def test_a_team_api_token_is_no_scrape_credential(client):
    team = TeamFactory()
    raw = create_api_token(team=team, name="ci", scope="read")[1]
    assert scrape(client, raw).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 403


def test_each_teams_key_figures_equal_its_dashboards(client):
    ops, web = TeamFactory(timezone="Europe/Paris"), TeamFactory(timezone="UTC")
    history(ops)
    history(web)
    ActionFactory(team=ops)
    ActionFactory(team=ops, stage_entered_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    response = scrape(client)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    for team in (ops, web):
        figures = metrics.period_figures(metrics.build_scope(teams=team))
        reliability = figures["reliability"]
        assert sample(text, "opskaizen_team_incidents", team=team.slug) == reliability["incidents"] == 5
        assert sample(text, "opskaizen_team_time_to_restore_p90_seconds", team=team.slug) == pytest.approx(
            reliability["time_to_mitigate"]["p90"]
        )
        assert sample(text, "opskaizen_team_change_failure_rate", team=team.slug) == pytest.approx(0.4)
        assert sample(text, "opskaizen_team_open_actions", team=team.slug) == figures["health"]["open_actions"]
    assert sample(text, "opskaizen_team_open_actions", team=ops.slug) == 2


def test_the_figures_are_cached_between_scrapes(client, settings):
    team = TeamFactory()
    history(team)
    assert sample(scrape(client).content.decode(), "opskaizen_team_incidents", team=team.slug) == 5
    IncidentFactory(team=team, started_at=dt.datetime.combine(last_complete_monday(), dt.time(11), tzinfo=dt.UTC))
    assert sample(scrape(client).content.decode(), "opskaizen_team_incidents", team=team.slug) == 5
    cache.delete(CACHE_KEY)  # the TTL (METRICS_CACHE_SECONDS) ran out
    assert sample(scrape(client).content.decode(), "opskaizen_team_incidents", team=team.slug) == 6


def test_health_comes_from_the_database(client):
    team = TeamFactory()
    integration = create_integration(team=team, source="generic")
    old = WebhookDelivery.objects.create(integration=integration, team=team, outcome="queued", body="{}")
    WebhookDelivery.objects.create(integration=integration, team=team, outcome="queued", body="{}")
    WebhookDelivery.objects.create(integration=integration, team=team, outcome="failed", body="{}")
    WebhookDelivery.objects.filter(pk=old.pk).update(received_at=old.received_at - dt.timedelta(minutes=10))
    text = scrape(client).content.decode()
    assert sample(text, "opskaizen_webhook_inbox_queued") == 2
    assert 600 <= sample(text, "opskaizen_webhook_inbox_oldest_age_seconds") < 700
    assert sample(text, "opskaizen_outbox_pending") == 0
    assert sample(text, "opskaizen_task_failures", kind="webhook") == 1
    assert sample(text, "opskaizen_task_failures", kind="outbox") == 0


def test_request_latency_is_recorded_by_view(client):
    client.get(reverse("healthz"))
    text = scrape(client).content.decode()
    count = sample(text, "opskaizen_http_request_duration_seconds_count", method="GET", view="healthz")
    assert count is not None and count >= 1


def test_the_grafana_dashboard_reads_only_series_that_are_exposed(client):
    history(TeamFactory())
    client.get(reverse("healthz"))
    health.record_tick(sender=SimpleNamespace(name=health.TICK_TASK))  # a worker's tick succeeded
    text = scrape(client).content.decode()
    assert sample(text, "opskaizen_tick_lag_seconds") < 60
    exposed = set(re.findall(r"^(opskaizen_\w+)", text, re.M))
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs/grafana/opskaizen.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"opskaizen_\w+", target["expr"])
    }
    assert len(used) >= 10 and used <= exposed, used - exposed
