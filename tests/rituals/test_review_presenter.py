"""Presenter mode: one agenda item at a time, its context inline, the board's own decisions."""

import datetime as dt

import pytest
from django.urls import reverse

from core.once import ONCE_FIELD, new_once_token
from improvement.models import Check, Stage
from rituals.models import ReviewDecision
from tests.factories import ActionFactory, IncidentFactory, TimelineEventFactory
from tests.rituals.agendas import frozen_session_of, item

pytestmark = pytest.mark.django_db


def present(client, team, session, n=None):
    url = reverse("rituals:review_present", args=[team.slug, session.pk])
    return client.get(url if n is None else f"{url}?item={n}")


def agenda_of(team, n_events=3):
    """Four items in agenda order: a signal, a measured action in Check, an incident with a timeline, a postmortem."""
    action = ActionFactory(team=team, stage=Stage.CHECK, title="Canary stage")
    Check.objects.create(
        team=team, action=action, baseline_value=12, observed_value=3, verdict="effective", computed_verdict="effective"
    )
    incident = IncidentFactory(team=team, title="Gateway 502")
    start = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    for k in range(n_events):
        TimelineEventFactory(
            incident=incident, team=team, occurred_at=start + dt.timedelta(minutes=k), text=f"event {k}"
        )
    items = [
        item("signals", 1),
        item("checks", 1, object_id=action.pk) | {"title": "Canary stage", "data": {"stage": "check"}},
        item("incidents", 1, object_id=incident.pk) | {"title": "Gateway 502"},
        item("other", 1),
    ]
    return frozen_session_of(team, items), action, incident


def test_it_shows_one_item_with_links_to_the_previous_and_next(client, viewer, team):
    session, _action, _incident = agenda_of(team)
    client.force_login(viewer)
    page = present(client, team, session, 2).content.decode()
    assert "Item 2 of 4" in page and "Canary stage" in page and "Gateway 502" not in page
    url = reverse("rituals:review_present", args=[team.slug, session.pk])
    assert f'rel="prev" data-present="prev" href="{url}?item=1"' in page
    assert f'rel="next" data-present="next" href="{url}?item=3"' in page
    assert 'aria-live="polite"' in page and "Item 2 of 4: Canary stage" in page
    assert "rituals/presenter.js" in page and "<script>" not in page  # a static file, no inline script


def test_an_actions_item_shows_its_check_panel_with_its_chart(client, viewer, team):
    session, _action, _incident = agenda_of(team)
    client.force_login(viewer)
    page = present(client, team, session, 2).content.decode()
    assert 'class="bar bar-100"' in page and 'class="bar observed bar-25"' in page
    assert "Baseline 12, observed 3" in page and "verdict-effective" in page


def test_an_incidents_item_shows_its_timeline_excerpt(client, viewer, team):
    session, _action, _incident = agenda_of(team, n_events=9)
    client.force_login(viewer)
    page = present(client, team, session, 3).content.decode()
    assert "event 8" in page and "event 3" in page and "event 2" not in page  # the last six, oldest first
    assert page.index("event 3") < page.index("event 8")


def test_a_signals_item_shows_the_metrics_control_chart(client, viewer, team):
    session, _action, _incident = agenda_of(team)
    client.force_login(viewer)
    page = present(client, team, session, 1).content.decode()
    assert "Control chart: Incidents" in page
    assert '<svg class="sparkline"' in page or "not enough data yet" in page


def test_the_sections_timebox_is_shown_for_the_timer(client, viewer, team):
    session, _action, _incident = agenda_of(team)
    client.force_login(viewer)
    page = present(client, team, session, 3).content.decode()
    assert f'data-timer="{session.pk}:incidents" data-minutes="1"' in page
    assert "timebox 1 minute" in page


def test_a_decision_taken_in_presenter_mode_is_the_boards_and_comes_back_to_the_item(client, lead, team):
    session, _action, incident = agenda_of(team)
    client.force_login(lead)
    url = reverse("rituals:review_decide", args=[team.slug, session.pk]) + "?present=3"
    data = {
        "decision": "new_action",
        "item_id": f"incident:{incident.pk}",
        "title": "Alert on 502",
        ONCE_FIELD: new_once_token(),
    }
    response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("rituals:review_present", args=[team.slug, session.pk]) + "?item=3"
    decision = ReviewDecision.objects.get(session=session)
    assert decision.kind == "action_created" and decision.action.incidents.get() == incident
    page = present(client, team, session, 2).content.decode()
    assert "Measured: move to Act" in page  # the legal moves of a Check action, nothing else
    assert "Start: move to Do" not in page


def test_another_teams_session_and_an_item_off_the_agenda_are_404(client, lead, team, other_team):
    theirs, _a, _i = agenda_of(other_team)
    mine, _a, _i = agenda_of(team)
    client.force_login(lead)
    assert present(client, other_team, theirs).status_code == 404
    assert present(client, team, theirs).status_code == 404
    assert present(client, team, mine, 5).status_code == 404
    assert present(client, team, mine, "x").status_code == 200  # not a number: the first item


@pytest.mark.parametrize("n", [2, 12])
def test_each_kind_of_item_costs_the_same_queries_at_any_size(client, lead, team, n, django_assert_num_queries):
    session, _action, _incident = agenda_of(team, n_events=n)
    for _ in range(n):
        ActionFactory(team=team, owner=lead, stage=Stage.DO)
    client.force_login(lead)
    for number, expected in PRESENTER_QUERIES.items():
        present(client, team, session, number)
        with django_assert_num_queries(expected):
            assert present(client, team, session, number).status_code == 200


# Per item (agenda order): signal (the dashboard's weekly series), action (its Check), incident
# (its timeline), postmortem (nothing beyond the item). Exact, so a per-row query fails the test.
PRESENTER_QUERIES = {1: 15, 2: 12, 3: 11, 4: 10}  # each includes the header's observer-role check
