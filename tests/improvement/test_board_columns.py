"""The PDCA board at scale: each column shows its first cards and its total; a column's own page shows them all."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from improvement import services
from improvement.views import actions as board_views
from tests.factories import ActionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_columns(monkeypatch, settings):
    monkeypatch.setattr(board_views, "BOARD_COLUMN_CARDS", 3)
    settings.UI_PAGE_SIZE = 2


def plan_actions(team, owner, n, *, start=0):
    today = timezone.localdate()
    return [
        ActionFactory(team=team, owner=owner, title=f"Plan {i:02d}", due_date=today + dt.timedelta(days=i))
        for i in range(start, start + n)
    ]


def board(client, team, **params):
    return client.get(reverse("improvement:board", args=[team.slug]), params)


def test_a_column_shows_its_first_cards_in_board_order_and_counts_them_all(client, member, team, small_columns):
    plan_actions(team, member, 5)
    services.move_action(action=ActionFactory(team=team, owner=member, title="Doing"), to_stage="do")
    client.force_login(member)
    response = board(client, team)
    columns = {c["stage"]: c for c in response.context["columns"]}
    assert [a.title for a in columns["plan"]["actions"]] == ["Plan 00", "Plan 01", "Plan 02"]
    assert (columns["plan"]["count"], columns["plan"]["more"]) == (5, 2)
    assert ([a.title for a in columns["do"]["actions"]], columns["do"]["count"], columns["do"]["more"]) == (
        ["Doing"],
        1,
        0,
    )
    html = response.content.decode()
    assert "Show the whole column (2 more)" in html
    assert "?stage=plan" in html
    assert "Plan 03" not in html


def test_a_columns_own_page_pages_through_all_its_cards(client, member, team, small_columns):
    plan_actions(team, member, 5)
    client.force_login(member)
    first = board(client, team, stage="plan")
    assert [c["stage"] for c in first.context["columns"]] == ["plan"]
    assert [a.title for a in first.context["columns"][0]["actions"]] == ["Plan 00", "Plan 01"]
    assert first.context["columns"][0]["count"] == 5
    assert "The whole board" in first.content.decode()
    last = board(client, team, stage="plan", page=3)
    assert [a.title for a in last.context["columns"][0]["actions"]] == ["Plan 04"]
    assert "Show the whole column" not in last.content.decode()


def test_the_other_filters_apply_to_the_counts_and_another_teams_actions_never_count(
    client, member, lead, team, other_team, small_columns
):
    plan_actions(team, member, 4)
    plan_actions(team, lead, 2, start=10)
    plan_actions(other_team, None, 6)
    client.force_login(member)
    columns = {c["stage"]: c for c in board(client, team).context["columns"]}
    assert columns["plan"]["count"] == 6
    by_lead = {c["stage"]: c for c in board(client, team, owner=lead.username).context["columns"]}
    assert (by_lead["plan"]["count"], [a.title for a in by_lead["plan"]["actions"]]) == (2, ["Plan 10", "Plan 11"])
    assert board(client, other_team).status_code == 404


def test_the_board_and_a_column_page_run_the_same_queries_at_two_sizes(
    client, member, team, small_columns, django_assert_num_queries
):
    plan_actions(team, member, 2)
    client.force_login(member)
    url = reverse("improvement:board", args=[team.slug])
    client.get(url)
    counts = []
    for params in ({}, {"stage": "plan", "page": 2}):
        client.get(url, params)
        with CaptureQueriesContext(connection) as captured:
            client.get(url, params)
        counts.append(len(captured))
    plan_actions(team, member, 30, start=2)
    for action in plan_actions(team, member, 10, start=40):
        services.move_action(action=action, to_stage="do")
    for params, count in zip(({}, {"stage": "plan", "page": 2}), counts, strict=True):
        with django_assert_num_queries(count):
            response = client.get(url, params)
        assert all(len(c["actions"]) <= 3 for c in response.context["columns"])
