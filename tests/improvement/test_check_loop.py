"""The evidence loop through the product's own entry points: the beat task measures, the API refuses typed or
early exits, an inconclusive Check is observed longer, and the figures count only what was verified."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from core.tasks import task_named
from improvement import checks, services
from improvement.models import Check, Stage, Verdict
from incidents.measures.scope import build_scope
from reporting.metrics.figures import period_figures
from tests.factories import ActionFactory, ChangeFactory, IncidentFactory, MembershipFactory, measured_check
from tests.reporting.metrics_data import move

pytestmark = pytest.mark.django_db


def in_check(team=None, *, days_ago=40, window=28, **kwargs):
    """An action that entered Do `days_ago` days ago (and Check just after), with a `window`-day window."""
    extra = {"team": team} if team else {}
    do_at = timezone.now() - dt.timedelta(days=days_ago)
    action = ActionFactory(stage_entered_at=do_at - dt.timedelta(days=5), check_window_days=window, **extra, **kwargs)
    move(action, Stage.DO, do_at, Stage.PLAN)
    move(action, Stage.CHECK, do_at + dt.timedelta(days=1), Stage.DO)
    return action, do_at


def incidents(action, do_at, *days):
    for offset in days:
        started = do_at + dt.timedelta(days=offset, hours=1)
        IncidentFactory(team=action.team, service=action.target_service, started_at=started, detected_at=started)


def run_beat_task(name: str):
    """What beat does: send the scheduled task by its registered name (run here by the real task code)."""
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == name)
    return task_named(entry["task"]).apply().get()


def test_the_beat_schedule_measures_each_due_check_once():
    due, do_at = in_check(days_ago=40)  # window ended 12 days ago, grace long over
    incidents(due, do_at, *range(-27, -17), 5)
    running, _ = in_check(days_ago=10)  # window still running
    in_grace, _ = in_check(days_ago=29)  # window ended a day ago: still in the 48 h of grace
    assert run_beat_task("improvement.measure_checks") == 1
    check = Check.objects.get(action=due)
    assert (check.evidence, check.computed_verdict) == ("computed", Verdict.EFFECTIVE)
    assert (check.baseline_count, check.observed_count) == (10, 1)
    assert check.data_as_of is not None and check.observed_end == do_at + dt.timedelta(days=28)
    assert not Check.objects.filter(action__in=[running, in_grace]).exists()
    first = check.measured_at
    assert run_beat_task("improvement.measure_checks") == 0  # idempotent: once per action and window
    check.refresh_from_db()
    assert check.measured_at == first


def test_a_remeasurement_that_changes_the_verdict_is_kept_and_flagged():
    action, do_at = in_check(days_ago=40)
    incidents(action, do_at, *range(-27, -17))
    first = checks.compute_check(action)
    assert first.computed_verdict == Verdict.EFFECTIVE
    incidents(action, do_at, *range(2, 14))  # late-logged incidents of the observed window
    again = checks.compute_check(action, force=True)
    assert again.computed_verdict != Verdict.EFFECTIVE
    assert (again.previous_computed_verdict, again.result_changed_at is not None) == (Verdict.EFFECTIVE, True)


def test_the_api_refuses_an_early_or_typed_exit_and_records_a_leads_override(make_client):
    action, _ = in_check(days_ago=10)
    member_client, _token = make_client(action.team, by=MembershipFactory(team=action.team, role="member").user)
    url = f"/api/v1/actions/{action.pk}/transition/"
    early = member_client.post(url, {"to_stage": "act", "verdict": "effective", "note": "Looks good"}, format="json")
    assert early.status_code == 400 and "stage" in early.json()["errors"]
    typed = {"to_stage": "act", "verdict": "effective", "baseline_value": 3, "observed_value": 0}
    refused = member_client.post(url, typed, format="json")
    assert refused.status_code == 400 and "baseline_value" in refused.json()["errors"]
    assert Check.objects.filter(action=action).count() == 0
    lead_client, _token = make_client(action.team)  # a lead's token
    no_reason = lead_client.post(url, {"to_stage": "act", "verdict": "effective"}, format="json")
    assert no_reason.status_code == 400 and "note" in no_reason.json()["errors"]
    body = {"to_stage": "act", "verdict": "effective", "note": "Vendor fixed it."}
    done = lead_client.post(url, body, format="json")
    assert done.status_code == 200
    check = done.json()["check_result"]
    assert (check["overridden"], check["verified"], check["note"]) == (True, False, "Vendor fixed it.")
    assert check["overridden_at"] is not None


def test_an_inconclusive_check_is_observed_longer_and_measured_again(make_client):
    action, do_at = in_check(days_ago=40)
    incidents(action, do_at, -20, -10, 3)
    assert checks.compute_check(action).computed_verdict == Verdict.INCONCLUSIVE
    client, _token = make_client(action.team)
    url = f"/api/v1/actions/{action.pk}/extend-check/"
    too_long = client.post(url, {"days": 340}, format="json")
    assert too_long.status_code == 400 and "days" in too_long.json()["errors"]
    extended = client.post(url, {"days": 14, "reason": "Too few incidents yet."}, format="json")
    assert extended.status_code == 200
    action.refresh_from_db()
    assert (action.stage, action.check_window_days) == (Stage.CHECK, 42)
    assert extended.json()["check_result"]["extensions"][0]["to_days"] == 42
    # The extended window ends in 2 days, then 48 h of grace: nothing is measured before.
    assert checks.due_check_ids() == []
    assert checks.due_check_ids(now=timezone.now() + dt.timedelta(days=3)) == []
    later = timezone.now() + dt.timedelta(days=5)
    assert checks.due_check_ids(now=later) == [action.pk]
    assert checks.compute_check(action, now=later).observed_end == do_at + dt.timedelta(days=42)


def test_bad_windows_and_measuring_outside_do_are_field_errors(make_client):
    client, _token = make_client(ActionFactory().team)
    team = client.get("/api/v1/teams/").json()["results"][0]["slug"]
    for days in (0, 366):
        response = client.post(
            "/api/v1/actions/", {"team": team, "title": "x", "check_window_days": days}, format="json"
        )
        assert response.status_code == 400 and "check_window_days" in response.json()["errors"]
    action = ActionFactory(stage=Stage.CHECK)
    with pytest.raises(Exception) as refused:
        checks.compute_check(action)
    assert "never entered Do" in str(refused.value)


def test_the_change_failure_check_counts_a_change_named_as_an_incidents_cause():
    action, do_at = in_check(days_ago=40, target_kind="metric", target_service=None, target_metric="failed_deployments")
    for offset in (-20, -15, -10):
        ChangeFactory(team=action.team, deployed_at=do_at + dt.timedelta(days=offset), failed=True)
    cause = ChangeFactory(team=action.team, deployed_at=do_at + dt.timedelta(days=4), failed=False)
    IncidentFactory(team=action.team, caused_by_change=cause, started_at=do_at + dt.timedelta(days=4, hours=2))
    check = checks.compute_check(action)
    assert (check.baseline_count, check.observed_count) == (3, 1)
    scope = build_scope(teams=[action.team], start=do_at.date(), end=(do_at + dt.timedelta(days=28)).date())
    assert period_figures(scope)["reliability"]["change_failure_rate"]["count"] == 1


def test_overrides_and_self_reports_are_never_counted_as_verified_and_open_actions_are_open():
    verified, _ = in_check(days_ago=40)
    team = verified.team
    overridden, _ = in_check(team, days_ago=40)
    measured_check(verified, Verdict.EFFECTIVE)
    services.move_action(action=verified, to_stage=Stage.ACT)
    lead = MembershipFactory(team=team, role="lead").user
    services.move_action(action=overridden, to_stage=Stage.ACT, by=lead, verdict=Verdict.EFFECTIVE, note="Trust me")
    ActionFactory(team=team, stage=Stage.DONE)
    scope = build_scope(teams=[team], start=(timezone.now() - dt.timedelta(days=60)).date(), end=timezone.localdate())
    health = period_figures(scope)["health"]
    assert health["effective_share"]["count"] == 1
    assert health["overridden_share"]["count"] == 1
    assert health["open_actions"] == 2  # the two in Act, not the one done


def test_a_member_measures_again_and_extends_an_inconclusive_check_from_the_page(client):
    action, do_at = in_check(days_ago=40)
    member = MembershipFactory(team=action.team, role="member").user
    incidents(action, do_at, -20, -10, 3)
    checks.compute_check(action)
    client.force_login(member)
    page = client.get(reverse("improvement:action_detail", args=[action.team.slug, action.pk])).content.decode()
    assert "Measure again now" in page and "Extend the window" in page and "What this window can show" in page
    incidents(action, do_at, *range(-27, -17))  # late-logged baseline incidents
    measured = client.post(reverse("improvement:action_measure", args=[action.team.slug, action.pk]))
    assert measured.status_code == 302
    check = Check.objects.get(action=action)
    assert (check.baseline_count, check.computed_verdict) == (12, Verdict.EFFECTIVE)
    assert check.previous_computed_verdict == Verdict.INCONCLUSIVE and check.result_changed_at is not None


def test_extending_from_the_page_refuses_bad_days_and_another_teams_action(client):
    action, do_at = in_check(days_ago=40)
    incidents(action, do_at, -20, -10, 3)
    checks.compute_check(action)
    member = MembershipFactory(team=action.team, role="member").user
    client.force_login(member)
    url = reverse("improvement:action_extend_check", args=[action.team.slug, action.pk])
    assert client.post(url, {"days": "400"}).status_code == 400
    assert client.post(url, {"days": "14", "reason": "Too few yet"}).status_code == 302
    action.refresh_from_db()
    assert action.check_window_days == 42
    stranger = MembershipFactory(role="lead")
    client.force_login(stranger.user)
    other = reverse("improvement:action_extend_check", args=[stranger.team.slug, action.pk])
    assert client.post(other, {"days": "14"}).status_code == 404
    assert client.post(reverse("improvement:action_measure", args=[stranger.team.slug, action.pk])).status_code == 404
    action.refresh_from_db()
    assert action.check_window_days == 42
