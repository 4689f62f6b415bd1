"""The board's strip of what moved since the last session, and each owner's load beside Assign."""

import datetime as dt
import re

import freezegun
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from improvement.models import Check, Stage, StageTransition
from rituals import agenda, selectors
from tests.factories import ActionFactory, IncidentFactory, MembershipFactory
from tests.rituals.agendas import frozen_session_of, item

pytestmark = pytest.mark.django_db

OCCURRENCE = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
IN_WINDOW = OCCURRENCE - dt.timedelta(days=2)
BEFORE = OCCURRENCE - dt.timedelta(days=9)


def signal(metric: str, label: str) -> dict:
    raw = item("signals", 1)
    data = raw["data"] | {"metric": metric, "label": label}
    return raw | {"id": f"metric_signal:{metric}", "title": label, "data": data}


def sessions(team):
    """Last week's session (signals: incidents, time to restore) and this week's (incidents, deploys)."""
    previous = frozen_session_of(
        team,
        [signal("incidents", "Incidents"), signal("mttr", "Time to restore")],
        occurrence=OCCURRENCE - dt.timedelta(days=7),
    )
    previous.status = "closed"
    previous.save()
    return frozen_session_of(
        team,
        [signal("incidents", "Incidents"), signal("deploys", "Deployments"), item("incidents", 1)],
        occurrence=OCCURRENCE,
        previous=previous,
    )


def movement(team, n: int):
    """n of each: SEV1 and SEV3 incidents, actions done and abandoned, effective and inconclusive verdicts."""
    for _ in range(n):
        IncidentFactory(team=team, severity="SEV1", started_at=IN_WINDOW)
        IncidentFactory(team=team, severity="SEV3", started_at=IN_WINDOW)
        for to, verdict in ((Stage.DONE, "effective"), (Stage.ABANDONED, "inconclusive")):
            action = ActionFactory(team=team, stage=to)
            StageTransition.objects.create(team=team, action=action, from_stage=Stage.ACT, to_stage=to, at=IN_WINDOW)
            Check.objects.create(team=team, action=action, verdict=verdict, measured_at=IN_WINDOW)
    IncidentFactory(team=team, severity="SEV2", started_at=BEFORE)  # before the window: not counted


def test_what_moved_counts_the_window_between_the_two_sessions(team, other_team):
    session = sessions(team)
    movement(team, 2)
    movement(other_team, 3)  # another team's movement never counts
    moved = selectors.moved_since_last_session(session)
    assert (moved["start"], moved["end"]) == (OCCURRENCE - dt.timedelta(days=7), OCCURRENCE)
    assert {row["severity"]: row["count"] for row in moved["incidents"]} == {
        "SEV1": 2,
        "SEV2": 0,
        "SEV3": 2,
        "SEV4": 0,
    }
    assert (moved["incident_total"], moved["done"], moved["abandoned"]) == (4, 2, 2)
    assert {row["verdict"]: row["count"] for row in moved["verdicts"]} == {
        "effective": 2,
        "not_effective": 0,
        "inconclusive": 2,
    }
    assert (moved["appeared"], moved["cleared"]) == (["Deployments"], ["Time to restore"])


def test_the_strip_is_at_the_top_of_the_board(client, viewer, team):
    session = sessions(team)
    movement(team, 1)
    client.force_login(viewer)
    page = client.get(reverse("rituals:review", args=[team.slug, session.pk])).content.decode()
    strip = page[page.index('id="moved"') : page.index("</section>", page.index('id="moved"'))]
    assert page.index('id="moved"') < page.index('class="agenda-section"')
    assert "What moved since the last session" in strip
    assert re.search(r"New incidents</strong> 2", strip) and "SEV1 1" in strip and "SEV3 1" in strip
    assert "1 done, 1 abandoned" in strip
    assert "appeared: Deployments" in strip and "cleared: Time to restore" in strip


def test_the_strip_reads_in_french(client, viewer, team):
    session = sessions(team)
    client.force_login(viewer)
    page = client.get(reverse("rituals:review", args=[team.slug, session.pk]), HTTP_ACCEPT_LANGUAGE="fr")
    text = page.content.decode()
    assert "Ce qui a bougé depuis la dernière séance" in text
    assert "apparus\u00a0: Deployments" in text and "Charge des responsables" in text


def test_owners_load_counts_open_and_overdue_actions_beside_assign(client, lead, team, other_team):
    today = dt.date.today()
    alice = MembershipFactory(team=team, role="member", user__username="alice").user
    ActionFactory(team=team, owner=alice, stage=Stage.DO, due_date=today - dt.timedelta(days=3))
    ActionFactory(team=team, owner=alice, stage=Stage.PLAN, due_date=today + dt.timedelta(days=3))
    ActionFactory(team=team, owner=alice, stage=Stage.DONE, due_date=today - dt.timedelta(days=30))
    ActionFactory(team=other_team, owner=alice, stage=Stage.DO, due_date=today - dt.timedelta(days=3))
    action = ActionFactory(team=team, owner=lead, stage=Stage.PLAN)
    session = frozen_session_of(team, [item("overdue", 1, object_id=action.pk)])
    client.force_login(lead)
    page = client.get(reverse("rituals:review", args=[team.slug, session.pk])).content.decode()
    load = page[page.index('id="owners-load"') : page.index("</section>", page.index('id="owners-load"'))]
    assert re.search(r"<th scope=\"row\">alice</th><td class=\"num\">2</td><td class=\"num warn\">1</td>", load)
    assert f'<th scope="row">{lead.username}</th><td class="num">1</td><td class="num">0</td>' in load
    assert "alice — 2 open, 1 overdue</option>" in page  # in the Assign list of the action's item


@pytest.mark.parametrize("n", [1, 6])
def test_the_strip_and_the_load_cost_the_same_queries_at_any_size(client, lead, team, n, django_assert_num_queries):
    session = sessions(team)
    movement(team, n)
    for _ in range(n):
        member = MembershipFactory(team=team, role="member").user
        ActionFactory(team=team, owner=member, stage=Stage.DO, due_date=dt.date(2020, 1, 1))
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, session.pk])
    client.get(url)
    cache.clear()
    # A view after a tick computes the metric signals of the live part (targets, weekly figures, savepoint).
    with django_assert_num_queries(EXPECTED_BOARD_QUERIES):
        assert client.get(url).status_code == 200
    # Session, agenda decisions, legal moves, members with load, 3 for what moved, the rest as before.
    with django_assert_num_queries(EXPECTED_BOARD_QUERIES - SIGNAL_QUERIES):
        response = client.get(url)
    assert response.status_code == 200


def test_the_board_computes_the_metric_signals_at_most_once_a_tick(client, lead, team, monkeypatch):
    from reporting import metrics

    session = sessions(team)
    computed = []
    real = metrics.signals_for_team
    monkeypatch.setattr(metrics, "signals_for_team", lambda team, now: computed.append(now) or real(team, now=now))
    client.force_login(lead)
    url = reverse("rituals:review", args=[team.slug, session.pk])
    cache.clear()
    with freezegun.freeze_time(timezone.now(), tick=False) as frozen:
        client.get(url)
        frozen.tick(agenda.SIGNALS_CACHE_SECONDS - 1)
        client.get(url)
        assert len(computed) == 1  # reused within one tick
        frozen.tick(2)
        assert client.get(url).status_code == 200
        assert len(computed) == 2  # never older than one tick


# The same at n=1 and n=6: asserted exactly, so any new per-row query fails the test.
EXPECTED_BOARD_QUERIES = 26  # + the metric targets (live agenda), the observer role (header), and the
# savepoint around the live agenda's metric signals (a test runs in a transaction; a request does not).
# Within one tick the board reuses the live agenda's metric signals (rituals.agenda.SIGNALS_CACHE_SECONDS):
# the targets, the weekly figures and the savepoint are not read again.
SIGNAL_QUERIES = 8
# What came in since the freeze reads only the new items: frozen ones that no longer qualify are not
# re-read (that read ran only when there were such items: one more query, depending on the data).
