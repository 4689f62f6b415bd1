"""Recurrence: a new incident on the target of a standardised action reopens it, once per incident."""

import pytest

from improvement import recurrence, services
from improvement.models import Action, Stage
from incidents import services as incident_services
from tests.factories import ActionFactory, ServiceFactory, measured_check
from tests.reporting.metrics_data import at

pytestmark = pytest.mark.django_db

STANDARDISED_AT = at("2026-03-01 12:00")


def standardised(decision="standardise", **kwargs):
    """An action walked through the PDCA service to done with `decision`."""
    action = ActionFactory(stage_entered_at=at("2026-01-01 00:00"), **kwargs)
    services.move_action(action=action, to_stage=Stage.DO, at=at("2026-01-02 00:00"))
    services.move_action(action=action, to_stage=Stage.CHECK, note="Rolled out.", at=at("2026-02-01 00:00"))
    measured_check(action, "effective", baseline=5, observed=0)
    services.move_action(action=action, to_stage=Stage.ACT, at=at("2026-02-02 00:00"))
    services.move_action(action=action, to_stage=Stage.DONE, decision=decision, at=STANDARDISED_AT)
    action.refresh_from_db()
    return action


def log_incident(team, service, started, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return incident_services.create_incident(team=team, service=service, title="Gateway down", started_at=started)


def test_incident_on_the_target_service_flags_the_action_and_opens_a_new_cycle(django_capture_on_commit_callbacks):
    action = standardised()
    incident = log_incident(
        action.team, action.target_service, at("2026-03-10 08:00"), django_capture_on_commit_callbacks
    )
    action.refresh_from_db()
    assert action.recurred_at is not None
    assert list(action.recurrences.all()) == [incident]
    successor = Action.objects.get(previous_cycle=action)
    assert (successor.stage, successor.origin, successor.cycle) == (Stage.PLAN, "recurrence", 2)
    assert successor.target_service == action.target_service
    assert incident in successor.incidents.all()


def test_the_same_incident_twice_changes_nothing_more(django_capture_on_commit_callbacks):
    action = standardised()
    incident = log_incident(
        action.team, action.target_service, at("2026-03-10 08:00"), django_capture_on_commit_callbacks
    )
    assert recurrence.record_recurrence(incident=incident) == []
    assert Action.objects.filter(previous_cycle=action).count() == 1
    assert action.recurrences.count() == 1


def test_a_second_incident_links_to_the_open_cycle_without_opening_another(django_capture_on_commit_callbacks):
    action = standardised()
    first = log_incident(action.team, action.target_service, at("2026-03-10 08:00"), django_capture_on_commit_callbacks)
    second = log_incident(
        action.team, action.target_service, at("2026-03-12 08:00"), django_capture_on_commit_callbacks
    )
    successor = Action.objects.get(previous_cycle=action)
    assert set(action.recurrences.all()) == {first, second}
    assert set(successor.incidents.all()) == {first, second}
    assert Action.objects.filter(team=action.team).count() == 2


def test_incidents_elsewhere_or_before_standardisation_are_not_recurrences(django_capture_on_commit_callbacks):
    action = standardised()
    log_incident(
        action.team, ServiceFactory(team=action.team), at("2026-03-10 08:00"), django_capture_on_commit_callbacks
    )
    log_incident(action.team, action.target_service, at("2026-02-20 08:00"), django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert action.recurred_at is None
    assert not Action.objects.filter(previous_cycle=action).exists()


def test_adjusted_actions_are_not_reopened_by_recurrence(django_capture_on_commit_callbacks):
    action = standardised(decision="adjust")  # adjust already opened cycle 2
    log_incident(action.team, action.target_service, at("2026-03-10 08:00"), django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert action.recurred_at is None
    assert Action.objects.filter(previous_cycle=action, origin="recurrence").count() == 0


def test_problem_target_matches_incidents_of_the_problem(django_capture_on_commit_callbacks):
    from tests.factories import ProblemFactory, TeamFactory

    team = TeamFactory()
    problem = ProblemFactory(team=team)
    action = standardised(team=team, target_kind="problem", target_service=None, target_problem=problem)
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_services.create_incident(
            team=team, problem=problem, title="Again", started_at=at("2026-03-10 08:00")
        )
    action.refresh_from_db()
    assert list(action.recurrences.all()) == [incident]
    assert Action.objects.get(previous_cycle=action).origin == "recurrence"


def test_another_teams_incident_never_touches_the_action(django_capture_on_commit_callbacks):
    from tests.factories import TeamFactory

    action = standardised()
    other = TeamFactory()
    log_incident(other, ServiceFactory(team=other), at("2026-03-10 08:00"), django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert action.recurred_at is None


def test_an_owner_who_left_still_gets_the_action_flagged_without_a_new_cycle(django_capture_on_commit_callbacks):
    from teams.models import Membership

    action = standardised()
    Membership.objects.filter(team=action.team, user=action.owner).delete()
    incident = log_incident(
        action.team, action.target_service, at("2026-03-10 08:00"), django_capture_on_commit_callbacks
    )
    assert incident.pk is not None
    action.refresh_from_db()
    assert action.recurred_at is not None
    assert list(action.recurrences.all()) == [incident]
    assert not Action.objects.filter(previous_cycle=action).exists()


def test_a_factor_recorded_later_reopens_an_action_aimed_at_its_category(django_capture_on_commit_callbacks):
    """Factor-category targets match when the postmortem names the factor, not when the incident is logged."""
    from tests.factories import TeamFactory

    team = TeamFactory()
    action = standardised(
        team=team, target_kind="factor_category", target_service=None, target_factor_category="change"
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_services.create_incident(team=team, title="Bad flag", started_at=at("2026-03-10 08:00"))
    action.refresh_from_db()
    assert action.recurred_at is None  # no factor yet: nothing to match
    postmortem = incident_services.start_postmortem(incident=incident)
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.add_contributing_factor(postmortem=postmortem, category="detection", description="No alert")
    action.refresh_from_db()
    assert action.recurred_at is None  # another category
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.add_contributing_factor(postmortem=postmortem, category="change", description="Typo")
        incident_services.add_contributing_factor(postmortem=postmortem, category="change", description="No review")
    action.refresh_from_db()
    assert list(action.recurrences.all()) == [incident]
    assert Action.objects.filter(previous_cycle=action, origin="recurrence").count() == 1


def test_an_incident_with_no_service_nor_problem_costs_no_recurrence_query(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    from tests.factories import TeamFactory

    team = TeamFactory()
    standardised(team=team)
    with django_capture_on_commit_callbacks() as callbacks:
        incident_services.create_incident(team=team, title="Unmapped alert", started_at=at("2026-03-10 08:00"))
    with django_assert_num_queries(0):
        for callback in callbacks:
            callback()
