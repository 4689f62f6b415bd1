"""/api/v1/metrics/…: content, CSV, filters, team isolation, bad input, schema and query counts."""

import csv
import datetime as dt
import io

import pytest
from rest_framework.test import APIClient

from tests.factories import ChangeFactory, IncidentFactory, MembershipFactory, ServiceFactory, TeamFactory
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db

RANGE = {"from": "2026-03-16", "to": "2026-04-05"}


@pytest.fixture
def setup():
    team = TeamFactory(timezone="Europe/Paris", slug="ops")
    other = TeamFactory(timezone="Europe/Paris")
    user = MembershipFactory(team=team, role="viewer").user
    client = APIClient()
    client.force_login(user)
    gateway = ServiceFactory(team=team)
    for started in ("2026-03-17 08:00", "2026-03-24 08:00", "2026-03-25 08:00"):
        IncidentFactory(team=team, service=gateway, started_at=at(started), detected_at=at(started))
    ChangeFactory(team=team, service=gateway, deployed_at=at("2026-03-18 10:00"))
    for _ in range(5):
        IncidentFactory(team=other, started_at=at("2026-03-17 08:00"), detected_at=at("2026-03-17 08:00"))
    return team, other, gateway, client


def test_figures_for_the_callers_teams_only(setup):
    _team, _other, _gateway, client = setup
    response = client.get("/api/v1/metrics/", RANGE)
    assert response.status_code == 200
    body = response.json()
    assert body["reliability"]["incidents"] == 3
    assert body["speed"]["deployment_frequency"]["count"] == 1
    assert body["range"] == {"from": "2026-03-16", "to": "2026-04-05", "weeks": 3, "timezone": "Europe/Paris"}


def test_team_filter_by_slug_and_by_id(setup):
    team, _other, _gateway, client = setup
    assert client.get("/api/v1/metrics/", {**RANGE, "team": "ops"}).json()["reliability"]["incidents"] == 3
    assert client.get("/api/v1/metrics/", {**RANGE, "team": team.pk}).json()["reliability"]["incidents"] == 3


def test_another_teams_data_is_a_404(setup):
    _team, other, _gateway, client = setup
    assert client.get("/api/v1/metrics/", {"team": other.pk}).status_code == 404
    assert client.get("/api/v1/metrics/weekly/", {"team": other.slug}).status_code == 404
    other_service = ServiceFactory(team=other)
    # Another team's service is an unknown one: a field error that does not say it exists.
    for url in ("/api/v1/metrics/", "/api/v1/metrics/signals/", "/api/v1/metrics/rows/"):
        response = client.get(url, {"service": other_service.pk, "figure": "incidents"})
        assert response.status_code == 400
        assert response.json()["errors"]["service"] == ["Unknown service."]
    assert client.get("/api/v1/metrics/rows/", {"team": other.pk, "figure": "incidents"}).status_code == 404


def test_service_filter(setup):
    team, _other, gateway, client = setup
    elsewhere = ServiceFactory(team=team)
    IncidentFactory(team=team, service=elsewhere, started_at=at("2026-03-17 09:00"), detected_at=at("2026-03-17 09:00"))
    body = client.get("/api/v1/metrics/", {**RANGE, "service": gateway.pk}).json()
    assert body["reliability"]["incidents"] == 3
    assert [row["service"] for row in body["reliability"]["mtbf"]] == [gateway.pk]


def test_bad_dates_are_a_400_naming_the_field(setup):
    _team, _other, _gateway, client = setup
    response = client.get("/api/v1/metrics/", {"from": "yesterday"})
    # The API's one error shape (core.api.errors): {"code", "message", "errors": {field: [...]}}.
    assert response.status_code == 400
    assert "from" in response.json()["errors"]
    response = client.get("/api/v1/metrics/weekly/", {"from": "2026-04-05", "to": "2026-03-01"})
    assert response.status_code == 400
    assert "from" in response.json()["errors"]
    response = client.get("/api/v1/metrics/weekly/", {"metric": "incidents,nonsense"})
    assert response.status_code == 400
    assert "nonsense" in response.json()["errors"]["metric"][0]


def test_anonymous_callers_are_refused():
    response = APIClient().get("/api/v1/metrics/")
    assert response.status_code in (401, 403)
    assert "incidents" not in response.content.decode()


def test_weekly_json_has_values_counts_limits(setup):
    _team, _other, _gateway, client = setup
    body = client.get("/api/v1/metrics/weekly/", {**RANGE, "metric": "incidents,time_to_detect_p50"}).json()
    assert body["weeks"] == ["2026-03-16", "2026-03-23", "2026-03-30"]
    assert set(body["series"]) == {"incidents", "time_to_detect_p50"}
    assert body["series"]["incidents"]["values"] == [1, 2, 0]
    assert body["series"]["time_to_detect_p50"]["counts"] == [1, 2, 0]
    assert body["series"]["incidents"]["limits"] is None  # 3 weeks are too few for limits


def test_weekly_csv_one_row_per_week_and_metric(setup):
    _team, _other, _gateway, client = setup
    response = client.get("/api/v1/metrics/weekly/", {**RANGE, "metric": "incidents", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["week", "metric", "pole", "value", "count", "centre", "lower", "upper"]
    assert [(row[0], row[1], row[3]) for row in rows[1:]] == [
        ("2026-03-16", "incidents", "1"),
        ("2026-03-23", "incidents", "2"),
        ("2026-03-30", "incidents", "0"),
    ]


def test_figures_csv_through_the_accept_header(setup):
    _team, _other, _gateway, client = setup
    response = client.get("/api/v1/metrics/", RANGE, HTTP_ACCEPT="text/csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = {row[1]: row for row in csv.reader(io.StringIO(response.content.decode()))}
    assert rows["incidents"][2] == "3"
    assert rows["time_to_detect"][5] == "3"  # count behind the median
    assert rows["change_failure_rate"][6] == "1"  # of 1 deployment


def test_signals_endpoint_lists_the_last_weeks_signals(setup):
    team, _other, gateway, client = setup
    for week in range(1, 12):
        started = at("2026-03-30 10:00") - dt.timedelta(weeks=week)
        IncidentFactory(team=team, service=gateway, started_at=started, detected_at=started)
    for hour in range(8):
        started = at("2026-03-31 08:00") + dt.timedelta(hours=hour)
        IncidentFactory(team=team, service=gateway, started_at=started, detected_at=started)
    body = client.get("/api/v1/metrics/signals/", {"team": "ops", "from": "2026-01-05", "to": "2026-04-05"}).json()
    incidents = [s for s in body["signals"] if s["metric"] == "incidents"]
    assert incidents[0]["week"] == "2026-03-30"
    assert incidents[0]["rule"] == "beyond_limit"
    assert incidents[0]["value"] == 8
    csv_body = client.get(
        "/api/v1/metrics/signals/", {"team": "ops", "from": "2026-01-05", "to": "2026-04-05", "format": "csv"}
    ).content.decode()
    assert csv_body.splitlines()[0] == "metric,label,week,value,limit,which,rule,direction"
    assert "incidents,Incidents,2026-03-30,8," in csv_body


def test_query_count_is_constant(setup, django_assert_max_num_queries):
    team, _other, _gateway, client = setup
    with django_assert_max_num_queries(14):
        client.get("/api/v1/metrics/", RANGE)
    for day in range(20):
        started = at("2026-03-16 08:00") + dt.timedelta(days=day)
        IncidentFactory(team=team, service=ServiceFactory(team=team), started_at=started, detected_at=started)
    with django_assert_max_num_queries(14):
        client.get("/api/v1/metrics/", RANGE)
    with django_assert_max_num_queries(12):
        client.get("/api/v1/metrics/weekly/", {**RANGE, "team": "ops"})


def test_endpoints_are_in_the_openapi_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert {"/api/v1/metrics/", "/api/v1/metrics/weekly/", "/api/v1/metrics/signals/", "/api/v1/metrics/rows/"} <= set(
        schema["paths"]
    )
    parameters = {p["name"] for p in schema["paths"]["/api/v1/metrics/weekly/"]["get"]["parameters"]}
    assert {"team", "service", "from", "to", "metric"} <= parameters


def test_a_user_without_a_team_sees_empty_figures_not_others_data(setup):
    from tests.factories import UserFactory

    client = APIClient()
    client.force_login(UserFactory())
    body = client.get("/api/v1/metrics/", RANGE).json()
    assert body["reliability"]["incidents"] == 0
    assert body["reliability"]["mtbf"] == []
    weekly = client.get("/api/v1/metrics/weekly/", {**RANGE, "metric": "incidents,improvement_wip"}).json()
    assert weekly["series"]["incidents"]["values"] == [0, 0, 0]
    assert weekly["series"]["improvement_wip"]["values"] == [0, 0, 0]


def test_a_range_longer_than_ten_years_is_refused(setup):
    _team, _other, _gateway, client = setup
    response = client.get("/api/v1/metrics/weekly/", {"from": "2000-01-03", "to": "2026-01-04"})
    assert response.status_code == 400
    assert "from" in response.json()["errors"]


def test_an_api_token_sees_only_its_own_team_even_if_its_user_sees_more(setup):
    from types import SimpleNamespace

    team, other, _gateway, _client = setup
    user = MembershipFactory(team=team, role="lead").user
    MembershipFactory(team=other, user=user)
    client = APIClient()
    client.force_authenticate(user=user, token=SimpleNamespace(team_id=team.pk))  # what token auth sets
    assert client.get("/api/v1/metrics/", RANGE).json()["reliability"]["incidents"] == 3
    assert client.get("/api/v1/metrics/", {**RANGE, "team": other.pk}).status_code == 404


def test_the_rows_behind_a_figure_add_up_to_it(setup):
    team, _other, gateway, client = setup
    ChangeFactory(team=team, service=gateway, deployed_at=at("2026-03-19 10:00"), failed=True)
    body = client.get("/api/v1/metrics/rows/", {**RANGE, "figure": "change_failure_rate"}).json()
    assert body["value"] == {"value": 0.5, "p90": None, "count": 1, "of": 2}
    assert len(body["rows"]) == 2 and [row["counted"] for row in body["rows"]] == [True, False]
    body = client.get("/api/v1/metrics/rows/", {**RANGE, "figure": "time_to_detect", "team": "ops"})
    assert body.status_code == 400 and "figure" in body.json()["errors"]
    body = client.get("/api/v1/metrics/rows/", {**RANGE, "figure": "incidents", "service": gateway.pk}).json()
    assert body["value"]["value"] == 3 and len(body["rows"]) == 3
    csv_body = client.get("/api/v1/metrics/rows/", {**RANGE, "figure": "incidents", "format": "csv"}).content.decode()
    assert csv_body.splitlines()[0] == "object_id,title,service,when,kind,counted,measure"
    assert len(csv_body.splitlines()) == 4


def test_an_empty_or_unknown_figure_is_a_field_error(setup):
    _team, _other, _gateway, client = setup
    for figure in ("", "nope"):
        response = client.get("/api/v1/metrics/rows/", {"figure": figure})
        assert response.status_code == 400 and "figure" in response.json()["errors"]


def test_rows_query_count_is_constant(setup, django_assert_max_num_queries):
    team, _other, gateway, client = setup
    query = {**RANGE, "figure": "change_failure_rate"}
    with django_assert_max_num_queries(16) as few:
        client.get("/api/v1/metrics/rows/", query)
    for day in range(15):
        ChangeFactory(team=team, service=gateway, deployed_at=at("2026-03-16 08:00") + dt.timedelta(days=day))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/metrics/rows/", query).json()["rows"]) == 16
