"""PDCA board and action pages: every move goes through move_action; a refusal is shown in place."""

import pytest
from django.urls import reverse

from improvement import services
from improvement.models import Action, Check, StageTransition
from tests.factories import ActionFactory, IncidentFactory, ServiceFactory, measured_check
from tests.web import once

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def move(client, team, action, to, origin="board", **data):
    url = reverse("improvement:action_move", args=[team.slug, action.pk])
    payload = {"to_stage": to, "from_stage": Action.objects.get(pk=action.pk).stage, "origin": origin, **data}
    return client.post(url, payload, **HTMX)


def test_board_shows_open_actions_in_their_columns(client, member, team, other_team):
    ActionFactory(team=team, owner=member, title="Plan me")
    doing = ActionFactory(team=team, owner=member, title="Doing it")
    services.move_action(action=doing, to_stage="do")
    ActionFactory(team=other_team, title="Not ours")
    client.force_login(member)
    response = client.get(reverse("improvement:board", args=[team.slug]))
    columns = {c["stage"]: [a.title for a in c["actions"]] for c in response.context["columns"]}
    assert columns == {"plan": ["Plan me"], "do": ["Doing it"], "check": [], "act": []}
    assert "Not ours" not in response.content.decode()


def test_board_query_count_does_not_grow_with_cards(client, member, team, django_assert_max_num_queries):
    client.force_login(member)
    url = reverse("improvement:board", args=[team.slug])
    ActionFactory(team=team, owner=member)
    client.get(url)
    with django_assert_max_num_queries(8) as few:
        client.get(url)
    for _ in range(25):
        services.move_action(action=ActionFactory(team=team, owner=member), to_stage="do")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert sum(c["count"] for c in response.context["columns"]) == 26


def test_the_move_form_asks_what_the_target_stage_needs(client, member, team):
    action = ActionFactory(team=team, owner=member)
    services.move_action(action=action, to_stage="do")
    services.move_action(action=action, to_stage="check", note="Shipped")
    client.force_login(member)
    url = reverse("improvement:action_move", args=[team.slug, action.pk])
    html = client.get(url, {"to": "act"}, **HTMX).content.decode()
    # Leaving Check confirms the measured verdict or is a lead's override: no typed numbers.
    assert 'name="verdict"' in html and 'name="note"' in html and 'name="baseline_value"' not in html
    assert "a lead&#x27;s override and needs a reason" in html
    assert "<html" not in html
    html = client.get(url, {"to": "abandoned"}, **HTMX).content.decode()
    assert 'name="reason"' in html and 'name="verdict"' not in html


def test_a_refused_move_says_why_in_place_and_moves_nothing(client, member, team):
    action = ActionFactory(team=team, owner=member, hypothesis="")
    client.force_login(member)
    response = move(client, team, action, "do")
    assert response.status_code == 400
    html = response.content.decode()
    assert "This move was refused" in html
    assert "Write the hypothesis: what you expect to change, and why." in html
    assert html.lstrip().startswith("<form")  # the partial, swapped in place of the move form
    action.refresh_from_db()
    assert action.stage == "plan"
    assert action.transitions.count() == 1


def test_a_member_cannot_leave_an_unmeasured_check_and_typed_numbers_are_refused(client, member, team):
    action = ActionFactory(team=team, owner=member)
    services.move_action(action=action, to_stage="do")
    services.move_action(action=action, to_stage="check", note="Shipped")
    client.force_login(member)
    response = move(client, team, action, "act", verdict="effective", baseline_value="4", observed_value="0")
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "lead's override" in errors["__all__"][0] or "lead's override" in str(errors)
    assert "measured by OpsKaizen" in str(errors)
    assert Action.objects.get(pk=action.pk).stage == "check"
    assert not Check.objects.filter(action=action).exists()


def test_a_lead_overrides_an_early_check_with_a_reason_on_the_page(client, lead, team):
    action = ActionFactory(team=team, owner=lead)
    services.move_action(action=action, to_stage="do")
    services.move_action(action=action, to_stage="check", note="Shipped")
    client.force_login(lead)
    assert move(client, team, action, "act", verdict="effective").status_code == 400  # no reason given
    assert move(client, team, action, "act", verdict="effective", note="Fixed upstream.").status_code == 200
    check = Check.objects.get(action=action)
    assert (check.overridden, check.note, check.decided_by) == (True, "Fixed upstream.", lead)
    page = client.get(reverse("improvement:action_detail", args=[team.slug, action.pk])).content.decode()
    assert "overridden by a lead" in page and "not counted as verified" in page and "Fixed upstream." in page
    board = client.get(reverse("improvement:board", args=[team.slug])).content.decode()
    assert "Check overridden by a lead" in board


def test_a_move_on_the_board_redraws_the_board_with_the_card_in_its_new_column(client, member, team):
    action = ActionFactory(team=team, owner=member, title="Canary")
    client.force_login(member)
    response = move(client, team, action, "do", note="Starting")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#board"
    columns = {c["stage"]: [a.title for a in c["actions"]] for c in response.context["columns"]}
    assert columns["do"] == ["Canary"]
    transition = StageTransition.objects.filter(action=action).last()
    assert (transition.from_stage, transition.to_stage, transition.by, transition.note, transition.via) == (
        "plan",
        "do",
        member,
        "Starting",
        "ui",
    )


def test_a_stale_board_cannot_move_a_card_twice(client, member, team):
    action = ActionFactory(team=team, owner=member)
    client.force_login(member)
    move(client, team, action, "do")
    url = reverse("improvement:action_move", args=[team.slug, action.pk])
    response = client.post(url, {"to_stage": "do", "from_stage": "plan", "origin": "board"}, **HTMX)
    assert response.status_code == 400
    assert "reload and try again" in response.content.decode()
    assert action.transitions.count() == 2


def test_a_card_walks_plan_do_check_act_and_adjust_opens_the_next_cycle(client, member, team):
    action = ActionFactory(team=team, owner=member, title="Canary")
    client.force_login(member)
    assert move(client, team, action, "do").status_code == 200
    action.refresh_from_db()
    assert move(client, team, action, "check", note="Canary stage live").status_code == 200
    action.refresh_from_db()
    measured_check(action, "inconclusive", baseline=6, observed=5)  # what the beat task records
    ok = move(client, team, action, "act")
    assert ok.status_code == 200
    action.refresh_from_db()
    assert Check.objects.get(action=action).verdict == "inconclusive"
    refused = move(client, team, action, "done", decision="standardise")
    assert "Only an action verified effective can be standardised" in refused.content.decode()
    done = move(client, team, action, "done", origin="detail", decision="adjust")
    assert done["HX-Redirect"] == reverse("improvement:action_detail", args=[team.slug, action.pk])
    action.refresh_from_db()
    assert (action.stage, action.decision) == ("done", "adjust")
    page = client.get(reverse("improvement:action_detail", args=[team.slug, action.pk])).content.decode()
    assert "Next cycle" in page and "cycle 2" not in page  # this page is cycle 1
    nxt = action.next_cycle
    nxt_page = client.get(reverse("improvement:action_detail", args=[team.slug, nxt.pk])).content.decode()
    assert "cycle 2" in nxt_page
    assert reverse("improvement:action_detail", args=[team.slug, action.pk]) in nxt_page


def test_action_detail_shows_target_history_and_check_panel(client, member, team):
    service = ServiceFactory(team=team, name="Gateway")
    action = ActionFactory(team=team, owner=member, target_service=service)
    services.move_action(action=action, to_stage="do", by=member)
    services.move_action(action=action, to_stage="check", note="Shipped", by=member)
    measured_check(action, "effective", baseline=8, observed=2)
    services.move_action(action=action, to_stage="act", by=member)
    client.force_login(member)
    html = client.get(reverse("improvement:action_detail", args=[team.slug, action.pk])).content.decode()
    assert "Gateway" in html and "decrease" in html
    assert "Shipped" in html  # the history note
    assert "✓ effective" in html  # verdict as text + icon, not colour alone
    assert "bar-100" in html and "bar-25" in html  # baseline vs observed drawn to scale


def test_self_reported_values_need_their_source_and_are_labelled_as_such(client, member, team):
    action = ActionFactory(team=team, owner=member, target_kind="metric", target_service=None, target_metric="nps")
    services.move_action(action=action, to_stage="do")
    services.move_action(action=action, to_stage="check", note="Shipped")
    client.force_login(member)
    url = reverse("improvement:action_check", args=[team.slug, action.pk])
    assert client.post(url, {"baseline_value": "x", "observed_value": "1"}).status_code == 400
    no_source = client.post(url, {"baseline_value": "3", "observed_value": "1", "verdict": "effective"})
    assert no_source.status_code == 400 and not Check.objects.filter(action=action).exists()
    form = {"baseline_value": "31", "observed_value": "42", "verdict": "effective", "self_reported_source": "Survey Q3"}
    assert client.post(url, form).status_code == 302
    check = Check.objects.get(action=action)
    assert (check.observed_value, check.evidence, check.self_reported_source) == (42, "self_reported", "Survey Q3")
    assert not check.verified
    page = client.get(reverse("improvement:action_detail", args=[team.slug, action.pk])).content.decode()
    assert "self-reported" in page and "Survey Q3" in page


def test_typed_values_for_a_target_the_product_measures_are_refused(client, member, team):
    action = ActionFactory(team=team, owner=member)
    services.move_action(action=action, to_stage="do")
    services.move_action(action=action, to_stage="check", note="Shipped")
    client.force_login(member)
    url = reverse("improvement:action_check", args=[team.slug, action.pk])
    form = {"baseline_value": "3", "observed_value": "1", "verdict": "effective", "self_reported_source": "me"}
    response = client.post(url, form)
    assert response.status_code == 400 and "it is not typed" in response.content.decode()
    assert not Check.objects.filter(action=action).exists()


def test_creating_an_action_for_an_incident_links_it(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("improvement:action_create", args=[team.slug]) + f"?incident={incident.pk}"
    response = client.post(url, once({"title": "Add alerting", "kind": "detective", "check_window_days": "28"}))
    action = Action.objects.get(title="Add alerting")
    assert response["Location"] == reverse("improvement:action_detail", args=[team.slug, action.pk])
    assert list(action.incidents.all()) == [incident]
    assert action.origin == "incident"


def test_the_target_cannot_change_once_the_action_left_plan(client, member, team):
    action = ActionFactory(team=team, owner=member)
    services.move_action(action=action, to_stage="do")
    client.force_login(member)
    url = reverse("improvement:action_edit", args=[team.slug, action.pk])
    form = client.get(url).context["form"]
    assert form.fields["target_kind"].disabled
    data = {k: v for k, v in form.initial.items() if v is not None}
    data |= {"title": "Renamed", "owner": member.pk, "target_direction": "increase"}
    assert client.post(url, data).status_code == 302
    action.refresh_from_db()
    assert (action.title, action.target_direction) == ("Renamed", "decrease")


def test_an_owner_from_another_team_is_refused_on_the_owner_field(client, member, team, other_team):
    from tests.factories import MembershipFactory

    stranger = MembershipFactory(team=other_team).user
    client.force_login(member)
    url = reverse("improvement:action_create", args=[team.slug])
    response = client.post(
        url, once({"title": "x", "kind": "corrective", "owner": stranger.pk, "check_window_days": 28})
    )
    assert response.status_code == 400
    assert response.context["form"].errors["owner"]
    assert not Action.objects.exists()


def test_the_board_filters_by_owner_username_like_the_api(client, member, lead, team, other_team):
    ActionFactory(team=team, owner=member, title="Mine")
    ActionFactory(team=team, owner=lead, title="The lead's")
    client.force_login(member)
    response = client.get(reverse("improvement:board", args=[team.slug]), {"owner": member.username})
    cards = [a.title for column in response.context["columns"] for a in column["actions"]]
    assert cards == ["Mine"]
    html = response.content.decode()
    assert f'<option value="{member.username}" selected>' in html
    assert f'<option value="{lead.username}">' in html
    assert [f.name for f in response.context["fields"]] == ["owner", "kind", "origin", "service"]
