"""The PDCA stage rules of improvement.services.move_action, one behaviour per test."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from improvement import services
from improvement.models import Action, Check, Stage, StageTransition
from tests.factories import ActionFactory, ChangeFactory, IncidentFactory, MembershipFactory, measured_check

pytestmark = pytest.mark.django_db


def snapshot(action):
    """Everything a move may write, to prove a refused move wrote nothing."""
    action = Action.objects.get(pk=action.pk)
    return (
        action.stage,
        action.stage_entered_at,
        action.decision,
        action.abandon_reason,
        list(StageTransition.objects.filter(action=action).values_list("from_stage", "to_stage", "at")),
        list(Check.objects.filter(action=action).values()),
        Action.objects.count(),
    )


def refused(action, **kwargs):
    """Attempt a move that must be refused; return the error dict and assert nothing changed."""
    before = snapshot(action)
    with pytest.raises(ValidationError) as excinfo:
        services.move_action(action=action, **kwargs)
    assert snapshot(action) == before
    return excinfo.value.message_dict


def in_stage(stage, verdict="effective", **kwargs):
    """An action walked through the service up to `stage`, with a verdict when past Check."""
    action = ActionFactory(**kwargs)
    path = [Stage.DO, Stage.CHECK, Stage.ACT]
    for step in path[: path.index(stage) + 1] if stage in path else []:
        extra = {}
        if step == Stage.CHECK:
            extra = {"note": "Rolled out."}
        if step == Stage.ACT:
            measured_check(action, verdict)
        services.move_action(action=action, to_stage=step, **extra)
    action.refresh_from_db()
    return action


def test_complete_plan_moves_to_do_and_records_the_transition():
    action = ActionFactory()
    by = action.owner
    services.move_action(action=action, to_stage=Stage.DO, by=by, via="api")
    action.refresh_from_db()
    assert action.stage == Stage.DO
    last = action.transitions.last()
    assert (last.from_stage, last.to_stage, last.by, last.via) == (Stage.PLAN, Stage.DO, by, "api")


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ({"hypothesis": ""}, "hypothesis"),
        ({"problem_statement": ""}, "problem_statement"),
        ({"owner": None}, "owner"),
        ({"due_date": None}, "due_date"),
        ({"target_kind": "", "target_service": None}, "target_kind"),
        ({"target_service": None}, "target_service"),
        ({"target_direction": ""}, "target_direction"),
    ],
)
def test_leaving_plan_needs_each_part_of_the_plan(missing, field):
    action = ActionFactory(**missing)
    errors = refused(action, to_stage=Stage.DO)
    assert field in errors


def test_metric_target_needs_the_metric_named():
    action = ActionFactory(target_kind=Action.TargetKind.METRIC, target_service=None, target_metric="")
    assert "target_metric" in refused(action, to_stage=Stage.DO)
    action.target_metric = "time_to_detect"
    action.save()
    services.move_action(action=action, to_stage=Stage.DO)
    assert Action.objects.get(pk=action.pk).stage == Stage.DO


@pytest.mark.parametrize(
    ("stage", "to_stage"),
    [
        (Stage.PLAN, Stage.CHECK),
        (Stage.PLAN, Stage.ACT),
        (Stage.PLAN, Stage.DONE),
        (Stage.DO, Stage.ACT),
        (Stage.DO, Stage.DONE),
        (Stage.CHECK, Stage.DONE),
        (Stage.CHECK, Stage.PLAN),
    ],
)
def test_skipping_a_stage_is_refused(stage, to_stage):
    action = in_stage(stage)
    errors = refused(action, to_stage=to_stage, note="trying", decision="standardise")
    assert "to_stage" in errors


def test_unknown_stage_is_refused_with_a_clear_error():
    action = ActionFactory()
    assert "Unknown stage" in refused(action, to_stage="shipped")["to_stage"][0]


def test_leaving_do_needs_evidence_the_change_was_made():
    action = in_stage(Stage.DO, external_ticket="")
    assert "note" in refused(action, to_stage=Stage.CHECK)


@pytest.mark.parametrize("evidence", ["ticket", "change", "note"])
def test_a_ticket_a_linked_change_or_a_note_is_evidence_enough(evidence):
    action = in_stage(Stage.DO)
    kwargs = {}
    if evidence == "ticket":
        action.external_ticket = "OPS-42"
        action.save()
    elif evidence == "change":
        action.changes.add(ChangeFactory(team=action.team))
    else:
        kwargs["note"] = "Canary stage added to the pipeline."
    services.move_action(action=action, to_stage=Stage.CHECK, **kwargs)
    assert Action.objects.get(pk=action.pk).stage == Stage.CHECK


def test_leaving_an_unmeasured_check_is_refused_to_a_member_and_typed_numbers_never_count():
    action = in_stage(Stage.CHECK)
    member = MembershipFactory(team=action.team, role="member").user
    errors = refused(action, to_stage=Stage.ACT, by=member, verdict="effective", note="Looks better.")
    assert "lead's override" in errors["stage"][0]
    errors = refused(action, to_stage=Stage.ACT, by=member, baseline_value=3, observed_value=0, verdict="effective")
    assert "measured by OpsKaizen" in errors["baseline_value"][0]
    lead = MembershipFactory(team=action.team, role="lead").user
    errors = refused(action, to_stage=Stage.ACT, by=lead, baseline_value=3, observed_value=0, verdict="effective")
    assert {"baseline_value", "note"} <= set(errors)


def test_a_lead_may_leave_an_unmeasured_check_with_a_reason_and_it_is_recorded_as_an_override():
    action = in_stage(Stage.CHECK)
    lead = MembershipFactory(team=action.team, role="lead").user
    assert "note" in refused(action, to_stage=Stage.ACT, by=lead, verdict="effective")
    services.move_action(action=action, to_stage=Stage.ACT, by=lead, verdict="effective", note="Vendor fixed it.")
    check = Check.objects.get(action=action)
    assert (check.verdict, check.overridden, check.note, check.decided_by) == (
        "effective",
        True,
        "Vendor fixed it.",
        lead,
    )
    assert check.overridden_at is not None and not check.verified


def test_leaving_check_confirms_the_computed_verdict():
    action = in_stage(Stage.CHECK)
    measured_check(action, "effective", baseline=8, observed=1)
    services.move_action(action=action, to_stage=Stage.ACT)
    check = Check.objects.get(action=action)
    assert (check.verdict, check.overridden) == ("effective", False)


def test_overriding_the_computed_verdict_needs_a_reason():
    action = in_stage(Stage.CHECK)
    measured_check(action, "inconclusive", baseline=8, observed=7)
    member = MembershipFactory(team=action.team, role="member").user
    assert "verdict" in refused(action, to_stage=Stage.ACT, by=member, verdict="effective", note="Trust me.")
    lead = MembershipFactory(team=action.team, role="lead").user
    assert "note" in refused(action, to_stage=Stage.ACT, by=lead, verdict="effective")
    services.move_action(
        action=action, to_stage=Stage.ACT, by=lead, verdict="effective", note="Two outages were planned tests."
    )
    check = Check.objects.get(action=action)
    assert (check.verdict, check.overridden, check.note) == ("effective", True, "Two outages were planned tests.")


def test_unknown_verdict_is_refused():
    action = in_stage(Stage.CHECK)
    assert "verdict" in refused(action, to_stage=Stage.ACT, verdict="great", baseline_value=1, observed_value=0)


def test_act_needs_a_decision():
    action = in_stage(Stage.ACT)
    assert "decision" in refused(action, to_stage=Stage.DONE)


def test_standardise_closes_an_effective_action():
    action = in_stage(Stage.ACT)
    services.move_action(action=action, to_stage=Stage.DONE, decision="standardise")
    action.refresh_from_db()
    assert (action.stage, action.decision) == (Stage.DONE, "standardise")
    assert not hasattr(action, "next_cycle") or action.next_cycle is None


def test_an_action_not_verified_effective_cannot_be_standardised():
    action = in_stage(Stage.ACT, verdict="not_effective")
    assert "decision" in refused(action, to_stage=Stage.DONE, decision="standardise")


def test_adjust_opens_the_next_cycle_linked_to_this_one():
    incident = IncidentFactory()
    action = in_stage(Stage.ACT, team=incident.team, verdict="not_effective")
    action.incidents.add(incident)
    services.move_action(action=action, to_stage=Stage.DONE, decision="adjust", note="Narrower scope.")
    action.refresh_from_db()
    nxt = action.next_cycle
    assert (action.stage, action.decision) == (Stage.DONE, "adjust")
    assert (nxt.stage, nxt.cycle, nxt.previous_cycle, nxt.title) == (Stage.PLAN, 2, action, action.title)
    assert list(nxt.incidents.all()) == [incident]
    assert list(nxt.transitions.values_list("from_stage", "to_stage")) == [("", Stage.PLAN)]


def test_abandon_needs_a_reason():
    action = in_stage(Stage.ACT, verdict="not_effective")
    assert "reason" in refused(action, to_stage=Stage.ABANDONED)
    services.move_action(action=action, to_stage=Stage.ABANDONED, reason="Cost outweighs the benefit.")
    action.refresh_from_db()
    assert (action.stage, action.decision, action.abandon_reason) == (
        Stage.ABANDONED,
        "abandon",
        "Cost outweighs the benefit.",
    )


@pytest.mark.parametrize("terminal", [Stage.DONE, Stage.ABANDONED])
def test_a_finished_action_cannot_move(terminal):
    action = in_stage(Stage.ACT)
    if terminal == Stage.DONE:
        services.move_action(action=action, to_stage=Stage.DONE, decision="standardise")
    else:
        services.move_action(action=action, to_stage=Stage.ABANDONED, reason="Superseded.")
    assert "to_stage" in refused(action, to_stage=Stage.PLAN, note="again")


@pytest.mark.parametrize(("stage", "to_stage"), [(Stage.DO, Stage.PLAN), (Stage.CHECK, Stage.DO)])
def test_going_back_needs_a_note(stage, to_stage):
    action = in_stage(stage)
    assert "note" in refused(action, to_stage=to_stage)
    services.move_action(action=action, to_stage=to_stage, note="Observe two more weeks.")
    assert Action.objects.get(pk=action.pk).stage == to_stage


def test_a_move_from_a_stale_page_is_refused_as_a_conflict():
    action = in_stage(Stage.DO)
    with pytest.raises(ValidationError) as excinfo:
        services.move_action(action=action, to_stage=Stage.CHECK, from_stage=Stage.PLAN, note="done")
    assert excinfo.value.error_dict["stage"][0].code == "conflict"
    assert Action.objects.get(pk=action.pk).stage == Stage.DO


def test_a_move_cannot_be_dated_before_the_previous_one():
    action = ActionFactory()
    assert "at" in refused(action, to_stage=Stage.DO, at=action.stage_entered_at - dt.timedelta(days=1))


def test_a_full_cycle_leaves_one_transition_per_move():
    action = in_stage(Stage.ACT)
    services.move_action(action=action, to_stage=Stage.DONE, decision="standardise", at=timezone.now())
    assert list(action.transitions.values_list("from_stage", "to_stage")) == [
        ("", "plan"),
        ("plan", "do"),
        ("do", "check"),
        ("check", "act"),
        ("act", "done"),
    ]


def test_the_target_is_fixed_once_the_action_left_plan():
    action = in_stage(Stage.DO)
    other = IncidentFactory(team=action.team).service
    with pytest.raises(ValidationError) as excinfo:
        services.update_action(action=action, target_service=other)
    assert "target_service" in excinfo.value.message_dict
    assert Action.objects.get(pk=action.pk).target_service_id != other.pk


def test_an_action_cannot_target_another_teams_service(other_team):
    foreign = IncidentFactory(team=other_team).service
    action = ActionFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.update_action(action=action, target_service=foreign)
    assert "target_service" in excinfo.value.message_dict


def test_the_owner_must_be_a_writing_member_of_the_team(team):
    viewer = MembershipFactory(team=team, role="viewer").user
    with pytest.raises(ValidationError) as excinfo:
        services.create_action(team=team, title="Canary", owner=viewer)
    assert "owner" in excinfo.value.message_dict
    assert not Action.objects.filter(team=team).exists()


def test_create_action_records_the_entry_into_plan(team, member):
    action = services.create_action(team=team, by=member, title="Canary", owner=member)
    assert list(action.transitions.values_list("from_stage", "to_stage", "by")) == [("", "plan", member.pk)]


def test_linking_another_teams_incident_is_refused_and_creates_nothing(team, member, other_team):
    foreign = IncidentFactory(team=other_team)
    with pytest.raises(ValidationError):
        services.create_action(team=team, title="Canary", owner=member, links={"incidents": [foreign]})
    assert not Action.objects.filter(team=team).exists()


def test_a_move_announces_itself_after_commit(django_capture_on_commit_callbacks):
    from improvement.signals import action_moved

    received = []
    action_moved.connect(lambda **kw: received.append(kw["transition"].to_stage), weak=False, dispatch_uid="t")
    try:
        action = ActionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            services.move_action(action=action, to_stage=Stage.DO)
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
            services.move_action(action=action, to_stage=Stage.DONE)
    finally:
        action_moved.disconnect(dispatch_uid="t")
    assert received == [Stage.DO]
