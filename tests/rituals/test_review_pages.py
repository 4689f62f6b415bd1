"""Rituals and the weekly review board: the frozen agenda walked item by item, decisions through the services."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from improvement.models import Action, StageTransition
from rituals import review_board
from rituals.models import ReviewDecision, Ritual
from tests.factories import ActionFactory, IncidentFactory, MembershipFactory
from tests.rituals.agendas import frozen_session_of
from tests.web import once

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def frozen_session(team, *, action, incident, previous=None, occurrence=None):
    """A session as the tick opens it: the agenda frozen in the documented JSON format (version 1)."""
    return frozen_session_of(
        team,
        [
            {
                "id": f"incident:{incident.pk}",
                "kind": "incident",
                "object_id": incident.pk,
                "title": incident.title,
                "data": {
                    "severity": "SEV2",
                    "status": "open",
                    "service": None,
                    "problem": None,
                    "started_at": "2026-11-20T08:00:00+00:00",
                    "resolved_at": None,
                    "has_postmortem": False,
                },
            },
            {
                "id": f"action_overdue:{action.pk}",
                "kind": "action_overdue",
                "object_id": action.pk,
                "title": action.title,
                "data": {"stage": action.stage, "owner": "x", "owner_id": action.owner_id, "due_date": "2026-11-01"},
            },
            {
                "id": "metric_signal:incidents",
                "kind": "metric_signal",
                "object_id": None,
                "title": "Incidents",
                "data": {
                    "metric": "incidents",
                    "label": "Incidents",
                    "week": "2026-11-16",
                    "value": 9.0,
                    "limit": 6.5,
                    "which": "upper",
                    "rule": "beyond_limit",
                    "direction": "above",
                },
            },
        ],
        occurrence=occurrence,
        previous=previous,
    )


@pytest.fixture
def board(team, lead):
    action = ActionFactory(team=team, owner=lead, title="Canary stage")
    incident = IncidentFactory(team=team, title="Gateway 502")
    return frozen_session(team, action=action, incident=incident), action, incident


def decide(client, team, session, **data):
    url = reverse("rituals:review_decide", args=[team.slug, session.pk])
    return client.post(url, once(data), **HTMX)


def test_the_review_page_walks_the_frozen_agenda_in_sections(client, viewer, team, board):
    session, _action, _incident = board
    client.force_login(viewer)
    html = client.get(reverse("rituals:review", args=[team.slug, session.pk])).content.decode()
    # A version 1 agenda (frozen before sections existed) reads in today's sections and order.
    assert html.index("Recurrences and signals") < html.index("New SEV1–SEV2 incidents") < html.index("Overdue work")
    assert "1/3" in html and "3/3" in html
    assert '<span class="badge stage-plan">Plan</span>' in html and ">plan<" not in html
    assert "0 of 3 items discussed" in html
    assert "09:00" in html  # the incident started 08:00 UTC, shown in the ritual's Paris time
    assert "⚠ above the upper control limit" in html  # a signal in words, not only in red
    assert "Mark as discussed" not in html  # a viewer reads; the lead runs the board


def test_the_lead_marks_an_item_discussed_in_place_once(client, lead, team, board):
    session, _action, incident = board
    client.force_login(lead)
    response = decide(client, team, session, decision="discussed", item_id=f"incident:{incident.pk}")
    assert response.status_code == 200
    assert response.content.decode().startswith('<article class="panel agenda-item discussed"')
    decide(client, team, session, decision="discussed", item_id=f"incident:{incident.pk}")
    assert session.decisions.filter(kind="discussed").count() == 1


def test_a_stage_move_decided_by_the_board_goes_through_move_action(client, lead, team, board):
    session, action, _incident = board
    client.force_login(lead)
    item = f"action_overdue:{action.pk}"
    response = decide(client, team, session, decision="move", item_id=item, action_id=action.pk, to_stage="check")
    assert response.status_code == 400
    assert "An action cannot move from Plan to Check." in response.content.decode()
    response = decide(client, team, session, decision="move", item_id=item, action_id=action.pk, to_stage="do")
    assert response.status_code == 200
    transition = StageTransition.objects.filter(action=action).last()
    assert (transition.to_stage, transition.via, transition.by) == ("do", "review_board", lead)
    body = response.content.decode()
    assert "Canary stage: Plan → Do" in body
    assert f"decided by {lead.username}" in body
    # Now in Do, the item offers Do's moves only, each with what it needs.
    assert "Done: move to Check" in body and "Back to Plan" in body and "Abandon" in body
    assert "Start: move to Do" not in body and "Measured: move to Act" not in body
    assert '<select name="to_stage"' not in body  # no free choice of any stage


def test_the_board_offers_only_the_legal_moves_of_each_action_with_what_they_need(client, lead, team):
    check = ActionFactory(team=team, stage="check", title="In check")
    act = ActionFactory(team=team, stage="act", title="In act")
    items = [
        {"id": f"action:{a.pk}", "kind": "action", "object_id": a.pk, "title": a.title, "section": "checks"}
        | {"reasons": ["check_due", "stale"], "minutes": 4, "carried_over_from": None, "data": {"stage": a.stage}}
        for a in (check, act)
    ]
    session = frozen_session_of(team, items)
    client.force_login(lead)
    html = client.get(reverse("rituals:review", args=[team.slug, session.pk])).content.decode()
    check_html = html[html.index(f'id="item-action:{check.pk}"') : html.index(f'id="item-action:{act.pk}"')]
    act_html = html[html.index(f'id="item-action:{act.pk}"') :]
    assert "Measured: move to Act" in check_html and 'name="verdict"' in check_html and "Back to Do" in check_html
    assert "Decide and close the cycle" not in check_html
    assert "Decide and close the cycle" in act_html and 'name="decision_taken"' in act_html
    assert "adjust (run another cycle)" in act_html and 'name="verdict"' not in act_html.split("</article>")[0]
    assert "Check result to decide" in check_html and "stale" in check_html  # both reasons, one item
    # An Act decision recorded from the board goes through move_action with its decision.
    response = decide(
        client, team, session, decision="move", item_id=f"action:{act.pk}", action_id=act.pk, to_stage="done"
    )
    assert response.status_code == 400 and "Decide: standardise, adjust" in response.content.decode()
    act.refresh_from_db()
    assert act.stage == "act"
    response = decide(
        client,
        team,
        session,
        decision="move",
        item_id=f"action:{act.pk}",
        action_id=act.pk,
        to_stage="done",
        decision_taken="adjust",
        note="Try a smaller batch",
    )
    assert response.status_code == 200
    act.refresh_from_db()
    assert (act.stage, act.decision) == ("done", "adjust")


def test_the_board_assigns_redates_and_creates_an_action_linked_to_the_item(client, lead, team, board):
    session, action, incident = board
    member = MembershipFactory(team=team, role="member").user
    client.force_login(lead)
    item = f"action_overdue:{action.pk}"
    assert (
        decide(client, team, session, decision="assign", item_id=item, action_id=action.pk, owner=member.pk).status_code
        == 200
    )
    assert (
        decide(
            client, team, session, decision="redate", item_id=item, action_id=action.pk, due_date="2026-12-24"
        ).status_code
        == 200
    )
    action.refresh_from_db()
    assert (action.owner, action.due_date) == (member, dt.date(2026, 12, 24))
    response = decide(
        client, team, session, decision="new_action", item_id=f"incident:{incident.pk}", title="Alert on 502s"
    )
    assert response.status_code == 200
    created = Action.objects.get(title="Alert on 502s")
    assert created.origin == "review_board"
    assert list(created.incidents.all()) == [incident]
    assert [d.kind for d in session.decisions.all()] == ["assigned", "redated", "action_created"]


def test_an_item_not_on_the_frozen_agenda_is_refused(client, lead, team, board):
    session, _action, _incident = board
    client.force_login(lead)
    response = decide(client, team, session, decision="discussed", item_id="incident:999999")
    assert response.status_code == 404
    assert not ReviewDecision.objects.exists()


def test_closing_writes_a_markdown_summary_linked_from_the_next_session(client, lead, team, board):
    session, action, incident = board
    client.force_login(lead)
    decide(client, team, session, decision="discussed", item_id=f"incident:{incident.pk}")
    decide(
        client,
        team,
        session,
        decision="move",
        item_id=f"action_overdue:{action.pk}",
        action_id=action.pk,
        to_stage="do",
        note="Agreed to start",
    )
    client.post(reverse("rituals:review_notes", args=[team.slug, session.pk]), {"notes": "Short meeting."})
    client.post(reverse("rituals:review_attendance", args=[team.slug, session.pk]), {"attendees": [lead.pk]})
    close_url = reverse("rituals:review_close", args=[team.slug, session.pk])
    asked = client.post(close_url)
    assert asked.status_code == 409  # one item left: the lead confirms, knowing which
    assert "1 item was not discussed; confirm to carry it over to the next session." in asked.content.decode()
    assert "<li>Incidents</li>" in asked.content.decode()
    session.refresh_from_db()
    assert session.status == "open" and session.summary == ""
    assert client.post(close_url, {"carry_over": "1"}).status_code == 302
    session.refresh_from_db()
    assert session.status == "closed" and session.closed_at is not None
    assert "Canary stage: Plan → Do. Agreed to start" in session.summary
    assert "2 of 3 items discussed." in session.summary  # marked, or decided on
    assert "1 item not discussed: carried over to the next session." in session.summary
    assert "Short meeting." in session.summary
    assert lead.username in session.summary
    export = client.get(reverse("rituals:review_export", args=[team.slug, session.pk]))
    assert export["Content-Type"].startswith("text/markdown")
    assert export.content.decode() == session.summary
    # A closed session's record no longer changes.
    refused = decide(client, team, session, decision="discussed", item_id=f"action_overdue:{action.pk}")
    assert refused.status_code == 400
    nxt = frozen_session(
        team, action=action, incident=incident, previous=session, occurrence=session.occurrence + dt.timedelta(days=7)
    )
    html = client.get(reverse("rituals:review", args=[team.slug, nxt.pk])).content.decode()
    assert reverse("rituals:review", args=[team.slug, session.pk]) in html
    assert "Previous session (2026-11-23) and its summary" in html


def test_review_pages_of_another_team_are_404(client, lead, other_team):
    session, *_ = (
        frozen_session(other_team, action=ActionFactory(team=other_team), incident=IncidentFactory(team=other_team)),
    )
    client.force_login(lead)
    for name in ("review", "review_export"):
        assert client.get(reverse(f"rituals:{name}", args=[other_team.slug, session.pk])).status_code == 404
    for name in ("review_decide", "review_attendance", "review_notes", "review_close"):
        url = reverse(f"rituals:{name}", args=[other_team.slug, session.pk])
        assert client.post(url, once({"decision": "discussed", "item_id": "x"})).status_code == 404
    session.refresh_from_db()
    assert session.status == "open"


def test_only_leads_run_the_board(client, member, team, board):
    session, _action, incident = board
    client.force_login(member)
    assert decide(client, team, session, decision="discussed", item_id=f"incident:{incident.pk}").status_code == 403
    assert client.post(reverse("rituals:review_close", args=[team.slug, session.pk])).status_code == 403


def test_a_lead_creates_and_edits_a_ritual_and_a_member_cannot(client, lead, member, team):
    client.force_login(member)
    assert client.get(reverse("rituals:ritual_create", args=[team.slug])).status_code == 403
    client.force_login(lead)
    data = once(
        {
            "name": "Weekly review",
            "kind": "weekly_review",
            "weekday": "0",
            "time_of_day": "10:00",
            "timezone": "Europe/Paris",
            "duration_minutes": "45",
            "stale_after_days": "10",
            "attendees": [lead.pk],
            "active": "on",
        }
    )
    assert client.post(reverse("rituals:ritual_create", args=[team.slug]), data).status_code == 302
    ritual = Ritual.objects.get(team=team, name="Weekly review")
    assert list(ritual.attendees.all()) == [lead]
    bad = {**data, "timezone": "Mars/Olympus"}
    response = client.post(reverse("rituals:ritual_edit", args=[team.slug, ritual.pk]), bad)
    assert response.status_code == 400
    assert "Mars/Olympus is not a known IANA time zone." in response.content.decode()
    stranger = MembershipFactory().user
    response = client.post(
        reverse("rituals:ritual_edit", args=[team.slug, ritual.pk]), {**data, "attendees": [stranger.pk]}
    )
    assert response.status_code == 400


def test_rituals_page_lists_sessions_with_a_constant_query_count(client, lead, team, django_assert_max_num_queries):
    client.force_login(lead)
    action, incident = ActionFactory(team=team, owner=lead), IncidentFactory(team=team)
    frozen_session(team, action=action, incident=incident)
    url = reverse("rituals:rituals", args=[team.slug])
    client.get(url)
    with django_assert_max_num_queries(10) as few:
        client.get(url)
    for week in range(1, 8):
        frozen_session(team, action=action, incident=incident, occurrence=timezone.now() - dt.timedelta(weeks=week))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["sessions"]) == 8


def test_review_page_query_count_does_not_grow_with_decisions(client, lead, team, board, django_assert_max_num_queries):
    session, _action, incident = board
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, session.pk])
    client.get(url)
    # 11 for the frozen board, 10 for what came in since the freeze (the agenda rebuilt live, metrics and
    # their targets included), 3 for what moved since the last session.
    with django_assert_max_num_queries(27) as few:
        client.get(url)
    baseline = len(few.captured_queries)  # read now: the next request clears the connection's query log
    decide(client, team, session, decision="discussed", item_id=f"incident:{incident.pk}")
    for n in range(5):
        decide(client, team, session, decision="new_action", item_id=f"incident:{incident.pk}", title=f"Follow-up {n}")
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert "Follow-up 4" in response.content.decode()


def test_an_action_created_outside_any_item_does_not_count_as_an_item_discussed(lead, team, board):
    session, _action, _incident = board
    review_board.create_action_from_board(session=session, by=lead, title="Tidy the runbooks")
    text = review_board.session_markdown(session)
    assert "0 of 3 items discussed." in text
    assert f"New action: Tidy the runbooks (action created; decided by {lead.username})" in text


def _actions_session(team, n, weeks_ago):
    actions = [ActionFactory(team=team, stage=("plan", "do", "check", "act")[i % 4]) for i in range(n)]
    items = [
        {"id": f"action:{a.pk}", "kind": "action", "object_id": a.pk, "title": a.title, "section": "overdue"}
        | {"reasons": ["overdue", "stale"], "minutes": 2, "carried_over_from": None, "data": {"stage": a.stage}}
        for a in actions
    ]
    return frozen_session_of(team, items, occurrence=timezone.now() - dt.timedelta(weeks=weeks_ago))


def test_legal_moves_cost_one_query_whatever_the_number_of_actions(client, lead, team, django_assert_max_num_queries):
    small, large = _actions_session(team, 4, 1), _actions_session(team, 20, 2)
    client.force_login(lead)
    client.get(reverse("rituals:review", args=[team.slug, small.pk]))
    with django_assert_max_num_queries(27) as few:  # the live agenda reads the metrics' targets too
        client.get(reverse("rituals:review", args=[team.slug, small.pk]))
    baseline = len(few.captured_queries)
    with django_assert_max_num_queries(baseline):
        html = client.get(reverse("rituals:review", args=[team.slug, large.pk])).content.decode()
    assert html.count("Measured: move to Act") == 5 and html.count("Decide and close the cycle") == 5


def test_what_a_closed_session_left_opens_the_next_one_and_both_summaries_count_it(client, lead, team, monkeypatch):
    from rituals import agenda

    monkeypatch.setattr(agenda, "_metric_signals", lambda team, now: [])
    action = ActionFactory(team=team, owner=lead, title="Rotate the keys", due_date=dt.date(2026, 11, 1))
    incident = IncidentFactory(team=team, title="Gateway 502")
    first = frozen_session(team, action=action, incident=incident)
    client.force_login(lead)
    decide(client, team, first, decision="discussed", item_id=f"incident:{incident.pk}")
    decide(client, team, first, decision="discussed", item_id="metric_signal:incidents")
    client.post(reverse("rituals:review_close", args=[team.slug, first.pk]), {"carry_over": "1"})
    first.refresh_from_db()
    assert "1 item not discussed: carried over to the next session." in first.summary
    nxt = frozen_session_of(team, [], occurrence=first.occurrence + dt.timedelta(days=7), previous=first)
    nxt.ritual = first.ritual
    nxt.save()
    nxt.agenda = agenda.build_agenda(session=nxt, now=nxt.occurrence)
    nxt.save()
    (carried,) = [item for item in nxt.agenda["items"] if item["section"] == "carried_over"]
    assert carried["id"] == f"action:{action.pk}"  # a version 1 item, carried as one version 2 item
    html = client.get(reverse("rituals:review", args=[team.slug, nxt.pk])).content.decode()
    assert html.index("Carried over from the previous session") < html.index("Rotate the keys")
    assert "carried over from 2026-11-23" in html and "1 item carried over from 2026-11-23" in html
    text = review_board.session_markdown(nxt)
    assert "1 carried over from 2026-11-23, 0 of them discussed." in text


def test_closing_with_everything_discussed_needs_no_confirmation(client, lead, team, board):
    session, action, incident = board
    client.force_login(lead)
    for item_id in (f"incident:{incident.pk}", f"action_overdue:{action.pk}", "metric_signal:incidents"):
        decide(client, team, session, decision="discussed", item_id=item_id)
    assert client.post(reverse("rituals:review_close", args=[team.slug, session.pk])).status_code == 302
    session.refresh_from_db()
    assert session.status == "closed" and "Every item was discussed." in session.summary


def test_another_teams_session_cannot_be_closed_even_confirmed(client, lead, other_team):
    theirs = frozen_session_of(other_team, [])
    client.force_login(lead)
    response = client.post(reverse("rituals:review_close", args=[other_team.slug, theirs.pk]), {"carry_over": "1"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"


def _live_session(team, n_incidents):
    from rituals import agenda

    ritual = Ritual.objects.create(team=team, name="Weekly", weekday=0, time_of_day=dt.time(10), timezone="UTC")
    for _i in range(n_incidents):
        IncidentFactory(team=team, severity="SEV1", started_at=timezone.now() - dt.timedelta(hours=2))
    session = ritual.sessions.create(team=team, occurrence=timezone.now() - dt.timedelta(hours=1))
    session.agenda = agenda.build_agenda(session=session, now=timezone.now() - dt.timedelta(minutes=50))
    session.save()
    return session


def test_what_came_in_since_the_freeze_is_listed_apart_and_cannot_be_decided(
    client, lead, team, monkeypatch, django_assert_max_num_queries
):
    from rituals import agenda

    monkeypatch.setattr(agenda, "_metric_signals", lambda team, now: [])
    small = _live_session(team, 2)
    late = IncidentFactory(team=team, title="Logged during the meeting", severity="SEV2")
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, small.pk])
    html = client.get(url).content.decode()
    panel = html[html.index('id="since-freeze"') :]
    assert "Since the agenda was frozen" in panel and "Logged during the meeting" in panel
    assert "New SEV1–SEV2 incidents" in panel
    assert f'id="item-incident:{late.pk}"' not in html  # not an item of the frozen agenda
    response = decide(client, team, small, decision="discussed", item_id=f"incident:{late.pk}")
    assert response.status_code == 404 and not ReviewDecision.objects.exists()
    with django_assert_max_num_queries(27) as few:
        client.get(url)
    baseline = len(few.captured_queries)
    large = _live_session(team, 30)
    with django_assert_max_num_queries(baseline):
        client.get(reverse("rituals:review", args=[team.slug, large.pk]))


def test_a_decision_on_an_action_item_cannot_move_another_action(client, lead, team, other_team, board):
    session, action, _incident = board
    elsewhere = ActionFactory(team=team, title="Not this item")
    theirs = ActionFactory(team=other_team, title="Another team's")
    client.force_login(lead)
    item = f"action_overdue:{action.pk}"
    for other in (elsewhere, theirs):
        response = decide(client, team, session, decision="move", item_id=item, action_id=other.pk, to_stage="do")
        assert response.status_code == 400
        assert "This decision is not about this agenda item&#x27;s action." in response.content.decode()
        other.refresh_from_db()
        assert other.stage == "plan"
    assert not ReviewDecision.objects.exists()
