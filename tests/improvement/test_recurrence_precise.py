"""Recurrence is precise and explains itself: one incident reopens only an exact-cause target; a rate target
reopens when its rate is back at the baseline; a false recurrence can be undone with a reason."""

import datetime as dt

import pytest
from django.urls import reverse

from improvement import recurrence
from improvement.models import Action, Check, Recurrence, Stage
from incidents import services as incident_services
from tests.factories import MembershipFactory, ProblemFactory
from tests.improvement.test_recurrence import STANDARDISED_AT, standardised
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db


def log(team, started, callbacks, **fields):
    with callbacks(execute=True):
        return incident_services.create_incident(team=team, title="Down again", started_at=started, **fields)


def with_baseline(action, count):
    Check.objects.filter(action=action).update(baseline_count=count)
    action.refresh_from_db()
    return action


def test_one_incident_of_the_same_problem_reopens_and_says_why(django_capture_on_commit_callbacks):
    problem = ProblemFactory()
    action = standardised(team=problem.team, target_kind="problem", target_service=None, target_problem=problem)
    incident = log(
        problem.team, STANDARDISED_AT + dt.timedelta(days=9), django_capture_on_commit_callbacks, problem=problem
    )
    link = Recurrence.objects.get(action=action, incident=incident)
    assert link.match == "exact"
    assert link.reason == f"incident #{incident.pk} on no service: same problem, 9 days after standardisation"
    successor = Action.objects.get(previous_cycle=action)
    assert successor.transitions.first().note == f"Reopened: {link.reason}"


def test_a_rate_target_is_not_reopened_by_its_first_incident_but_when_the_rate_is_back(
    django_capture_on_commit_callbacks,
):
    action = with_baseline(standardised(), 3)  # 3 incidents per 28-day window → 10 expected in 90 days
    service = action.target_service
    first = log(
        action.team, STANDARDISED_AT + dt.timedelta(days=2), django_capture_on_commit_callbacks, service=service
    )
    assert not Recurrence.objects.filter(action=action).exists()
    assert not Action.objects.filter(previous_cycle=action).exists()
    for day in range(3, 11):  # 9 incidents so far: still below the baseline rate over 90 days
        log(action.team, STANDARDISED_AT + dt.timedelta(days=day), django_capture_on_commit_callbacks, service=service)
    assert not Recurrence.objects.filter(action=action).exists()
    tenth = log(
        action.team, STANDARDISED_AT + dt.timedelta(days=12), django_capture_on_commit_callbacks, service=service
    )
    link = Recurrence.objects.get(action=action)
    assert (link.incident, link.match) == (tenth, "rate")
    assert "10 incidents in the last 90 days" in link.reason and "(10 per 90 days)" in link.reason
    assert Action.objects.get(previous_cycle=action).stage == Stage.PLAN
    assert first.pk != tenth.pk


def test_a_member_undoes_a_false_recurrence_and_its_cycle_is_withdrawn(client, django_capture_on_commit_callbacks):
    problem = ProblemFactory()
    action = standardised(team=problem.team, target_kind="problem", target_service=None, target_problem=problem)
    incident = log(problem.team, at("2026-03-10 08:00"), django_capture_on_commit_callbacks, problem=problem)
    link = Recurrence.objects.get(action=action)
    member = MembershipFactory(team=problem.team, role="member").user
    client.force_login(member)
    page = client.get(reverse("incidents:detail", args=[problem.team.slug, incident.pk])).content.decode()
    assert link.reason in page and "Mark as not a recurrence" in page
    url = reverse("incidents:recurrence_dismiss", args=[problem.team.slug, link.pk])
    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400 and "Say why" in refused.content.decode()
    assert client.post(url, {"reason": "A planned failover test, logged by mistake."}).status_code == 302
    link.refresh_from_db()
    assert (link.dismissed_by, link.dismiss_reason) == (member, "A planned failover test, logged by mistake.")
    successor = Action.objects.get(previous_cycle=action)
    assert successor.stage == Stage.WITHDRAWN
    assert successor.transitions.last().note.startswith("Not a recurrence:")
    action.refresh_from_db()
    assert action.recurred_at is None
    again = client.post(url, {"reason": "twice"})
    assert again.status_code == 400 and "already" in again.content.decode()


def test_a_cycle_that_left_plan_is_not_withdrawn(django_capture_on_commit_callbacks):
    problem = ProblemFactory()
    action = standardised(team=problem.team, target_kind="problem", target_service=None, target_problem=problem)
    log(problem.team, at("2026-03-10 08:00"), django_capture_on_commit_callbacks, problem=problem)
    successor = Action.objects.get(previous_cycle=action)
    Action.objects.filter(pk=successor.pk).update(stage=Stage.DO)
    recurrence.dismiss(link=Recurrence.objects.get(action=action), by=None, reason="Not the same cause.")
    assert Action.objects.get(pk=successor.pk).stage == Stage.DO


def test_another_teams_recurrence_link_is_a_404(client, django_capture_on_commit_callbacks):
    problem = ProblemFactory()
    action = standardised(team=problem.team, target_kind="problem", target_service=None, target_problem=problem)
    log(problem.team, at("2026-03-10 08:00"), django_capture_on_commit_callbacks, problem=problem)
    link = Recurrence.objects.get(action=action)
    stranger = MembershipFactory(role="lead")
    client.force_login(stranger.user)
    url = reverse("incidents:recurrence_dismiss", args=[stranger.team.slug, link.pk])
    assert client.post(url, {"reason": "not mine"}).status_code == 404
    link.refresh_from_db()
    assert link.dismissed_at is None


def test_a_real_recurrence_after_a_withdrawn_one_opens_a_new_cycle(django_capture_on_commit_callbacks):
    problem = ProblemFactory()
    action = standardised(team=problem.team, target_kind="problem", target_service=None, target_problem=problem)
    log(problem.team, at("2026-03-10 08:00"), django_capture_on_commit_callbacks, problem=problem)
    recurrence.dismiss(link=Recurrence.objects.get(action=action), by=None, reason="A drill.")
    withdrawn = Action.objects.get(stage=Stage.WITHDRAWN)
    again = log(problem.team, at("2026-04-02 08:00"), django_capture_on_commit_callbacks, problem=problem)
    fresh = Action.objects.get(previous_cycle=action)
    assert fresh.pk != withdrawn.pk and fresh.stage == Stage.PLAN
    assert again in fresh.incidents.all()
    assert Action.objects.get(pk=withdrawn.pk).stage == Stage.WITHDRAWN  # its history stays


def test_incidents_marked_not_a_recurrence_no_longer_count_towards_the_rate(django_capture_on_commit_callbacks):
    action = with_baseline(standardised(), 0)  # a baseline of 0: one incident is back at the baseline rate
    service = action.target_service
    first = log(
        action.team, STANDARDISED_AT + dt.timedelta(days=2), django_capture_on_commit_callbacks, service=service
    )
    link = Recurrence.objects.get(action=action, incident=first)
    recurrence.dismiss(link=link, by=None, reason="Logged on the wrong service.")
    assert recurrence.why(action, first) is None  # the dismissed incident alone no longer counts
    second = log(
        action.team, STANDARDISED_AT + dt.timedelta(days=5), django_capture_on_commit_callbacks, service=service
    )
    assert Recurrence.objects.filter(action=action, incident=second, dismissed_at__isnull=True).exists()
