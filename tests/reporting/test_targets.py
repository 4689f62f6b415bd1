"""Targets on weekly figures: set by a lead (page, API), read as distance and trend, a signal on a sustained miss."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reporting import metrics
from reporting.metrics import control
from reporting.models import Target
from rituals import agenda
from tests import factories
from tests.reporting.test_dashboard_page import incidents_in_week, last_complete_monday

pytestmark = pytest.mark.django_db


def test_a_target_signals_only_on_a_sustained_run():
    assert control.target_run([1, 1, 3, 3, 3, 3, 3, 3, 3, 3], 2, "below")["rule"] == "target_run"
    assert control.target_run([3, 3, 3, 3, 3, 3, 3, 1, 3], 2, "below") is None  # one good week breaks the run
    assert control.target_run([1, 1, 1, 1, 1, 1, 1, 9], 2, "below") is None  # one bad week is not a run
    assert control.target_run([1] * 8, 2, "above")["direction"] == "below"
    assert control.weeks_missing([3, 3, 1, 3], 2, "below") == 3


def incidents_every_week(team, weeks, per_week):
    service = factories.ServiceFactory(team=team)
    monday = last_complete_monday()
    for week in range(weeks):
        incidents_in_week(team, service, monday - dt.timedelta(weeks=week), per_week)


def test_a_lead_sets_a_target_on_the_page_and_the_dashboard_shows_its_distance(client, lead, team):
    incidents_every_week(team, 10, 3)
    client.force_login(lead)
    url = reverse("reporting:targets", args=[team.slug])
    response = client.post(url, {"metric": "time_to_mitigate_p90", "bound": "below", "value": "2"})
    assert response.status_code == 302
    assert Target.objects.get(team=team, metric="time_to_mitigate_p90").value == 7200  # hours → seconds
    client.post(url, {"metric": "incidents", "bound": "below", "value": "1"})
    client.post(url, {"metric": "change_failure_rate", "bound": "below", "value": "15"})
    assert Target.objects.get(team=team, metric="change_failure_rate").value == pytest.approx(0.15)
    html = client.get(reverse("reporting:dashboard", args=[team.slug])).content.decode()
    row = html[html.index('id="target-incidents"') :]
    row = row[: row.index("</tr>")]
    assert "at most 1" in row and "<td>3</td>" in row and "<td>+2</td>" in row
    assert "8 of the last 8 weeks missed it" in row and "missed for 8 weeks in a row" in row


def test_a_target_missed_for_eight_weeks_reaches_the_review_agenda(team, lead):
    incidents_every_week(team, 10, 3)
    Target.objects.create(team=team, metric="incidents", bound="below", value=1)
    Target.objects.create(team=team, metric="deployments", bound="above", value=0)  # met: no signal
    found = [s for s in metrics.signals_for_team(team, now=timezone.now()) if s["rule"] == "target_run"]
    assert [(s["metric"], s["limit"], s["direction"], s["value"]) for s in found] == [("incidents", 1, "above", 3)]
    now = timezone.now()
    ritual = factories.RitualFactory(team=team)
    session = factories.ReviewSessionFactory(ritual=ritual, occurrence=now)
    document = agenda.build_agenda(session=session, now=now)
    items = [i for i in document["items"] if i["kind"] == "metric_signal" and i["data"]["rule"] == "target_run"]
    assert len(items) == 1 and items[0]["section"] == "signals" and items[0]["data"]["metric"] == "incidents"


def test_bad_input_on_the_page_is_a_form_error_and_only_a_lead_may_set(client, lead, member, team):
    client.force_login(lead)
    url = reverse("reporting:targets", args=[team.slug])
    response = client.post(url, {"metric": "no_such_figure", "bound": "below", "value": "1"})
    assert response.status_code == 400 and 'id="id_metric_errors"' in response.content.decode()
    response = client.post(url, {"metric": "incidents", "bound": "below", "value": "-1"})
    assert response.status_code == 400 and 'id="id_value_errors"' in response.content.decode()
    assert not Target.objects.exists()
    client.force_login(member)
    assert client.get(url).status_code == 200
    assert client.post(url, {"metric": "incidents", "bound": "below", "value": "1"}).status_code == 403
    assert not Target.objects.exists()


def test_another_teams_targets_are_404(client, lead, team, other_team):
    theirs = Target.objects.create(team=other_team, metric="incidents", bound="below", value=1)
    client.force_login(lead)
    assert client.get(reverse("reporting:targets", args=[other_team.slug])).status_code == 404
    assert client.post(reverse("reporting:target_delete", args=[other_team.slug, theirs.pk])).status_code == 404
    assert client.post(reverse("reporting:target_delete", args=[team.slug, theirs.pk])).status_code == 404
    assert Target.objects.filter(pk=theirs.pk).exists()
    mine = Target.objects.create(team=team, metric="incidents", bound="below", value=1)
    assert client.post(reverse("reporting:target_delete", args=[team.slug, mine.pk])).status_code == 302
    assert not Target.objects.filter(pk=mine.pk).exists()


def test_the_targets_page_query_count_does_not_grow(client, lead, team, django_assert_max_num_queries):
    client.force_login(lead)
    url = reverse("reporting:targets", args=[team.slug])
    Target.objects.create(team=team, metric="incidents", bound="below", value=1)
    client.get(url)
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for metric in ("deployments", "lead_time_p50", "change_failure_rate", "time_to_mitigate_p90"):
        Target.objects.create(team=team, metric=metric, bound="below", value=1)
    incidents_every_week(team, 5, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).content.decode().count('class="target-row') == 5


def test_the_api_sets_lists_and_removes_targets_for_leads_of_the_team_only(team, other_team, lead, member):
    api = APIClient()
    api.force_login(lead)
    response = api.post(
        "/api/v1/metric-targets/",
        {"team": team.slug, "metric": "time_to_mitigate_p90", "bound": "below", "value": 7200},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["value"] == 7200
    again = api.post(
        "/api/v1/metric-targets/",
        {"team": team.slug, "metric": "time_to_mitigate_p90", "bound": "below", "value": 3600},
        format="json",
    )
    assert again.status_code == 201 and Target.objects.get().value == 3600  # replaced, not duplicated
    bad = api.post("/api/v1/metric-targets/", {"team": team.slug, "metric": "nope", "value": 1}, format="json")
    assert bad.status_code == 400 and "metric" in bad.json()["errors"]
    theirs = Target.objects.create(team=other_team, metric="incidents", bound="below", value=1)
    assert [row["metric"] for row in api.get("/api/v1/metric-targets/").json()["results"]] == ["time_to_mitigate_p90"]
    assert api.get(f"/api/v1/metric-targets/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/v1/metric-targets/{theirs.pk}/").status_code == 404
    as_member = APIClient()
    as_member.force_login(member)
    refused = as_member.post(
        "/api/v1/metric-targets/", {"team": team.slug, "metric": "incidents", "value": 1}, format="json"
    )
    assert refused.status_code == 403
    mine = Target.objects.get(team=team)
    assert as_member.delete(f"/api/v1/metric-targets/{mine.pk}/").status_code == 403
    assert api.delete(f"/api/v1/metric-targets/{mine.pk}/").status_code == 204


def test_a_target_without_a_bound_is_at_most_the_value_not_a_500(team, lead):
    """Found by schemathesis: `bound` is optional in the schema (the model's default), so the service defaults it."""
    api = APIClient()
    api.force_login(lead)
    response = api.post(
        "/api/v1/metric-targets/", {"team": team.slug, "metric": "incidents", "value": 3}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["bound"] == "below"
    assert Target.objects.get(team=team).bound == "below"
