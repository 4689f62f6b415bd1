"""The endpoints write through the services, answer in one error shape, and read in constant queries."""

import datetime as dt

import pytest
from django.utils import timezone

from improvement.models import Action, Stage, StageTransition
from incidents.models import Change, Incident, Postmortem, TimelineEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(team, make_client):
    client, _token = make_client(team)
    return client


def test_logging_an_incident_goes_through_the_service_and_returns_it(api, team):
    response = api.post(
        "/api/v1/incidents/",
        {"title": "Checkout 502s", "severity": "SEV2", "started_at": "2026-01-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.team == team
    assert incident.detected_at == incident.started_at  # the service's default
    assert response.json()["timeline"] == []


def test_timestamps_out_of_order_are_a_400_naming_the_field(api):
    response = api.post(
        "/api/v1/incidents/",
        {"title": "Bad", "started_at": "2026-01-01T10:00:00Z", "detected_at": "2026-01-01T09:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "detected_at" in body["errors"]
    assert not Incident.objects.filter(title="Bad").exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"title": "x", "started_at": "2026-01-01T10:00:00Z", "severity": "SEV9"}, "severity"),
        ({"title": ["not", "a", "string"], "started_at": "2026-01-01T10:00:00Z"}, "title"),
        ({"title": "x", "started_at": 12}, "started_at"),
        ({"title": "x", "started_at": "2026-01-01T10:00:00Z", "service": 10**30}, "service"),
    ],
)
def test_wrong_types_and_unknown_enum_values_are_400(api, body, field):
    response = api.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_malformed_json_invalid_utf8_and_nan_are_400(api):
    for raw in (b'{"title": ', b'{"title": "\xff\xfe"}', b'{"title": NaN}', b'{"title": "a\\u0000b"}'):
        response = api.generic("POST", "/api/v1/problems/", raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert response.json()["code"] == "parse_error"


def test_an_oversized_body_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/problems/", {"title": "x", "description": "y" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_non_json_body_is_415(api):
    response = api.generic("POST", "/api/v1/problems/", b"title=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_status_change_stamps_its_timestamp_and_the_timeline(api, team):
    incident = factories.IncidentFactory(team=team)
    response = api.patch(f"/api/v1/incidents/{incident.pk}/", {"status": "resolved"}, format="json")
    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None and incident.mitigated_at is not None
    assert TimelineEvent.objects.filter(incident=incident, kind="status").exists()


def test_adding_a_timeline_entry(api, team):
    incident = factories.IncidentFactory(team=team)
    response = api.post(f"/api/v1/incidents/{incident.pk}/timeline/", {"text": "Rolled back"}, format="json")
    assert response.status_code == 201
    assert incident.timeline.get().text == "Rolled back"
    detail = api.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert [event["text"] for event in detail["timeline"]] == ["Rolled back"]


def test_postmortem_lifecycle_through_the_api(api, team):
    incident = factories.IncidentFactory(team=team)
    response = api.post("/api/v1/postmortems/", {"incident": incident.pk, "summary": "S", "impact": "I"}, format="json")
    assert response.status_code == 201, response.json()
    pm_id = response.json()["id"]
    refused = api.post(f"/api/v1/postmortems/{pm_id}/transition/", {"to_status": "in_review"}, format="json")
    assert refused.status_code == 400
    assert "factors" in refused.json()["errors"]
    api.post(f"/api/v1/postmortems/{pm_id}/factors/", {"category": "change", "description": "D"}, format="json")
    moved = api.post(f"/api/v1/postmortems/{pm_id}/transition/", {"to_status": "in_review"}, format="json")
    assert moved.status_code == 200
    assert moved.json()["status"] == "in_review"
    assert [f["category"] for f in moved.json()["factors"]] == ["change"]


def test_action_transition_uses_the_stage_rules(api, team):
    incomplete = factories.ActionFactory(team=team, hypothesis="")
    response = api.post(f"/api/v1/actions/{incomplete.pk}/transition/", {"to_stage": "do"}, format="json")
    assert response.status_code == 400
    assert "hypothesis" in response.json()["errors"]
    ready = factories.ActionFactory(team=team)
    response = api.post(f"/api/v1/actions/{ready.pk}/transition/", {"to_stage": "do"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "do"
    last = StageTransition.objects.filter(action=ready).latest("at")
    assert (last.from_stage, last.to_stage, last.via) == ("plan", "do", "api")
    assert [t["to_stage"] for t in response.json()["transitions"]] == ["plan", "do"]


def test_a_stale_from_stage_is_a_409_conflict(api, team):
    action = factories.ActionFactory(team=team, stage=Stage.DO)
    response = api.post(
        f"/api/v1/actions/{action.pk}/transition/", {"to_stage": "check", "from_stage": "plan"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert Action.objects.get(pk=action.pk).stage == Stage.DO


def test_an_illegal_move_is_400_and_unknown_stage_is_400(api, team):
    action = factories.ActionFactory(team=team)
    for body in ({"to_stage": "act"}, {"to_stage": "nirvana"}):
        response = api.post(f"/api/v1/actions/{action.pk}/transition/", body, format="json")
        assert response.status_code == 400
        assert "to_stage" in response.json()["errors"]


def test_the_stage_cannot_be_patched(api, team):
    action = factories.ActionFactory(team=team)
    response = api.patch(f"/api/v1/actions/{action.pk}/", {"stage": "done", "title": "Renamed"}, format="json")
    assert response.status_code == 200
    action.refresh_from_db()
    assert (action.stage, action.title) == (Stage.PLAN, "Renamed")


def test_upsert_by_ref_creates_then_updates_without_duplicating(api, team):
    body = {"title": "Gateway down", "started_at": "2026-01-01T10:00:00Z", "severity": "SEV1"}
    first = api.put("/api/v1/incidents/by-ref/jira/OPS-42/", body, format="json")
    assert first.status_code == 201, first.json()
    second = api.put("/api/v1/incidents/by-ref/jira/OPS-42/", {**body, "title": "Gateway down (EU)"}, format="json")
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    incident = Incident.objects.get(team=team, source="jira", external_id="OPS-42")
    assert incident.title == "Gateway down (EU)"


def test_upsert_changes_and_actions_by_ref(api, team):
    for _ in range(2):
        api.put("/api/v1/changes/by-ref/github/org%2Frepo%2Fdeployments%2F7/", {"title": "Deploy"}, format="json")
        api.put("/api/v1/actions/by-ref/jira/OPS-7/", {"title": "Add canary"}, format="json")
    assert Change.objects.filter(team=team, source="github").count() == 1
    assert Action.objects.filter(team=team, source="jira", external_id="OPS-7").count() == 1


def test_idempotency_key_replays_the_first_response(api, team):
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-1"}
    body = {"title": "Once", "started_at": "2026-01-01T10:00:00Z"}
    first = api.post("/api/v1/incidents/", body, format="json", **headers)
    second = api.post("/api/v1/incidents/", body, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Incident.objects.filter(title="Once").count() == 1


def test_idempotency_key_with_another_body_is_422(api, team):
    headers = {"HTTP_IDEMPOTENCY_KEY": "abc-2"}
    api.post("/api/v1/problems/", {"title": "First"}, format="json", **headers)
    response = api.post("/api/v1/problems/", {"title": "Second"}, format="json", **headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not team.problems.filter(title="Second").exists()


def test_filters_and_search(api, team):
    service = factories.ServiceFactory(team=team)
    hit = factories.IncidentFactory(team=team, service=service, severity="SEV1", title="Database failover")
    factories.IncidentFactory(team=team, severity="SEV3", title="Database slow")
    factories.IncidentFactory(team=team, service=service, severity="SEV1", title="Cache miss storm")
    rows = api.get(f"/api/v1/incidents/?severity=SEV1&service={service.pk}&q=database").json()["results"]
    assert [row["id"] for row in rows] == [hit.pk]
    assert api.get("/api/v1/incidents/?severity=SEV9").status_code == 400
    assert api.get("/api/v1/incidents/?started_after=yesterday").status_code == 400


def test_pages_are_stable_and_disjoint(api, team):
    started = timezone.now() - dt.timedelta(days=1)
    for _ in range(7):
        factories.IncidentFactory(team=team, started_at=started, detected_at=started)  # ties on the order
    seen = []
    for page in (1, 2, 3):
        seen += [row["id"] for row in api.get(f"/api/v1/incidents/?page_size=3&page={page}").json()["results"]]
    assert len(seen) == len(set(seen)) == 7


LISTS = [
    "teams",
    "services",
    "incidents",
    "problems",
    "postmortems",
    "changes",
    "actions",
    "rituals",
    "review-sessions",
]


@pytest.mark.parametrize("resource", LISTS)
def test_list_query_count_does_not_grow_with_rows(resource, team, make_client, django_assert_max_num_queries):
    from tests.api.conftest import populate

    client, _token = make_client(team)
    populate(team)
    with django_assert_max_num_queries(12) as few:
        client.get(f"/api/v1/{resource}/?page_size=200")
    for _ in range(4):
        populate(team)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/api/v1/{resource}/?page_size=200")
    assert response.status_code == 200
    assert resource in ("teams", "memberships") or response.json()["count"] >= 5


def test_throttling_is_per_token(team, make_client, settings):
    settings.API_THROTTLE_RATE = "3/minute"
    first, _ = make_client(team)
    second, _ = make_client(team)
    codes = [first.get("/api/v1/actions/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert second.get("/api/v1/actions/").status_code == 200


def test_throttle_window_slides_and_counts_only_allowed_requests(team, make_client, settings, monkeypatch):
    """3/minute: the previous minute's count weighs by how much of it still overlaps the last 60 s."""
    from teams.api.auth import TokenRateThrottle

    settings.API_THROTTLE_RATE = "3/minute"
    api, _ = make_client(team)
    clock = {"now": 6_000_000.0}  # the start of a window (a multiple of 60)
    monkeypatch.setattr(TokenRateThrottle, "timer", staticmethod(lambda: clock["now"]))
    codes = [api.get("/api/v1/actions/").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = api.get("/api/v1/actions/")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    clock["now"] += 90  # half-way through the next window: 3 x 0.5 = 1.5 still counted
    codes = [api.get("/api/v1/actions/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    clock["now"] += 60  # the previous window allowed 2 (the refused call is not counted): 2 x 0.5 = 1
    assert [api.get("/api/v1/actions/").status_code for _ in range(3)] == [200, 200, 429]


def test_published_postmortem_is_frozen(api, team):
    postmortem = factories.PostmortemFactory(incident=factories.IncidentFactory(team=team), status="published")
    response = api.patch(f"/api/v1/postmortems/{postmortem.pk}/", {"summary": "rewrite"}, format="json")
    assert response.status_code == 400
    assert Postmortem.objects.get(pk=postmortem.pk).summary == "What happened."


def test_by_ref_takes_source_and_id_from_the_url_not_the_body(api, team):
    response = api.put(
        "/api/v1/changes/by-ref/ci/build-9/", {"title": "Deploy", "source": "x", "external_id": "y"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["source"], response.json()["external_id"]) == ("ci", "build-9")


def test_by_ref_external_ids_may_hold_slashes_but_not_control_characters(api, team):
    ok = api.put("/api/v1/actions/by-ref/github/acme%2Fcheckout%231347/", {"title": "Canary"}, format="json")
    assert ok.status_code == 201
    assert ok.json()["external_id"] == "acme/checkout#1347"
    for bad in ("a%0Ab", "a%00b"):
        response = api.put(f"/api/v1/actions/by-ref/github/{bad}/", {"title": "x"}, format="json")
        assert response.status_code == 400
        assert "external_id" in response.json()["errors"]


def test_unknown_api_paths_answer_json_404(api):
    response = api.put("/api/v1/actions/by-ref/not a slug/x/", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_date_filters_with_unusual_offsets_are_compared_in_utc(api, team):
    incident = factories.IncidentFactory(team=team)
    rows = api.get("/api/v1/incidents/", {"started_after": "2000-01-01T00:00:00-17:54"}).json()["results"]
    assert [row["id"] for row in rows] == [incident.pk]


def test_a_ritual_created_through_the_api_is_scheduled_and_a_bad_rrule_is_400(team, make_client):
    client, _token = make_client(team)
    body = {"name": "Weekly board", "weekday": 0, "time_of_day": "10:00", "timezone": "Europe/Paris"}
    response = client.post("/api/v1/rituals/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["next_occurrence"] is not None
    bad = client.post("/api/v1/rituals/", {"name": "Bad", "rrule": "FREQ=SOMETIMES"}, format="json")
    assert bad.status_code == 400
    assert "rrule" in bad.json()["errors"]
    missing = client.post("/api/v1/rituals/", {"name": "Unscheduled"}, format="json")
    assert missing.status_code == 400


def test_metrics_team_parameter_with_a_unicode_digit_is_404_not_500(api):
    # Found by schemathesis: "¹".isdigit() is True but int("¹") fails.
    response = api.get("/api/v1/metrics/weekly/", {"team": "¹"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_problem_is_edited_and_resolved_through_patch(api, team, other_team, make_client):
    problem = factories.ProblemFactory(team=team, title="Disk fills up")
    service = factories.ServiceFactory(team=team)
    response = api.patch(
        f"/api/v1/problems/{problem.pk}/", {"status": "resolved", "service": service.pk}, format="json"
    )
    assert response.status_code == 200, response.json()
    problem.refresh_from_db()
    assert (problem.status, problem.service, problem.title) == ("resolved", service, "Disk fills up")
    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"status": "gone", "title": ""}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status", "title"}
    foreign = factories.ServiceFactory(team=other_team)
    response = api.patch(f"/api/v1/problems/{problem.pk}/", {"service": foreign.pk}, format="json")
    assert response.status_code == 400 and "service" in response.json()["errors"]
    problem.refresh_from_db()
    assert (problem.status, problem.service) == ("resolved", service)
    reader, _ = make_client(team, scope="read")
    assert reader.patch(f"/api/v1/problems/{problem.pk}/", {"status": "open"}, format="json").status_code == 403
    assert (
        api.post("/api/v1/problems/", {"title": "Known", "status": "known_error"}, format="json").json()["status"]
        == "known_error"
    )
