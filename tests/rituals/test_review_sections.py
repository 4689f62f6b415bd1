"""The review board with a big backlog: a capped board, one paged page per agenda section, complete records."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rituals import review_board
from rituals.models import ReviewDecision, ReviewSession
from rituals.views.agenda_items import AGENDA_SECTIONS, REVIEW_SECTION_CAP, REVIEW_SECTION_PAGE_SIZE
from tests.factories import ActionFactory
from tests.rituals.agendas import big_session, item
from tests.web import once

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
ARTICLE = '<article class="panel agenda-item'


def section_html(html: str, kind: str) -> str:
    """The board's <section> of one agenda kind (items never contain a <section> of their own)."""
    start = html.index(f'id="section-{kind}"')
    return html[start : html.index("</section>", start)]


def numbers(html: str) -> list[int]:
    """The agenda numbers of the items rendered in `html`, in order ("21/1400" → 21)."""
    return [int(n) for n in re.findall(r'<span class="muted">(\d+)/\d+</span>', html)]


def board_url(team, session):
    return reverse("rituals:review", args=[team.slug, session.pk])


def section_url(team, session, kind):
    return reverse("rituals:review_section", args=[team.slug, session.pk, kind])


def discuss(session, kind, *ns, by=None):
    for n in ns:
        review_board.mark_discussed(session=session, item_id=item(kind, n)["id"], by=by)


def test_the_board_lists_at_most_the_cap_per_section_and_says_how_many_more(client, lead, team):
    session = big_session(team, 200)
    discuss(session, "other", 1, 150, by=lead)
    client.force_login(lead)
    html = client.get(board_url(team, session)).content.decode()
    assert html.count(ARTICLE) == REVIEW_SECTION_CAP * len(AGENDA_SECTIONS)
    for kind in AGENDA_SECTIONS:
        section = section_html(html, kind)
        assert section.count(ARTICLE) == REVIEW_SECTION_CAP
        assert f"and {200 - REVIEW_SECTION_CAP} more" in section
        assert f'href="{section_url(team, session, kind)}"' in section
    assert "2 of 200 discussed" in section_html(html, "other")
    assert "0 of 200 discussed" in section_html(html, "incidents")
    assert "2 of 1400 items discussed" in html


def test_a_section_that_fits_keeps_the_agenda_order_and_has_no_more_link(client, lead, team):
    session = big_session(team, 5, kinds=("incidents", "overdue"))
    discuss(session, "incidents", 2)
    client.force_login(lead)
    html = client.get(board_url(team, session)).content.decode()
    assert numbers(section_html(html, "incidents")) == [1, 2, 3, 4, 5]
    assert numbers(section_html(html, "overdue")) == [6, 7, 8, 9, 10]
    assert "more-items" not in html
    assert 'id="section-checks"' not in html  # an empty section is not shown


def test_a_long_section_shows_what_is_left_to_discuss_first(client, lead, team):
    session = big_session(team, REVIEW_SECTION_CAP + 10, kinds=("overdue",))
    discuss(session, "overdue", 1, 2, 3, 25)
    client.force_login(lead)
    html = client.get(board_url(team, session)).content.decode()
    assert numbers(html) == list(range(4, 25))[:REVIEW_SECTION_CAP]
    assert "and 10 more" in html
    assert f"4 of {REVIEW_SECTION_CAP + 10} discussed" in html


def test_board_query_count_is_the_same_with_5_and_200_items_per_section(client, lead, team):
    small, large = big_session(team, 5), big_session(team, 200, weeks_ago=1)
    for session in (small, large):
        discuss(session, "incidents", 1, 2)
        discuss(session, "signals", 3)
    client.force_login(lead)
    counts = {}
    for name, session in (("small", small), ("large", large)):
        client.get(board_url(team, session))  # warm the session and the caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(board_url(team, session))
        counts[name] = len(queries)
        assert response.status_code == 200
    assert counts["small"] == counts["large"]
    assert response.content.decode().count(ARTICLE) == REVIEW_SECTION_CAP * len(AGENDA_SECTIONS)


def test_the_section_page_pages_through_the_whole_section_in_the_agenda_order(client, lead, team):
    per_section = 2 * REVIEW_SECTION_PAGE_SIZE + 7
    session = big_session(team, per_section, kinds=("incidents", "other"))
    client.force_login(lead)
    url = section_url(team, session, "other")
    first = per_section + 1  # the rest comes after the incidents on the agenda
    html = client.get(url).content.decode()
    assert numbers(html) == list(range(first, first + REVIEW_SECTION_PAGE_SIZE))
    assert html.count("Mark as discussed") == REVIEW_SECTION_PAGE_SIZE  # the board's controls, on every item
    assert "Page 1 of 3" in html and "?page=2" in html
    assert f"0 of {per_section} discussed" in html
    last = client.get(url, {"page": 3}).content.decode()
    assert numbers(last) == list(range(first + 2 * REVIEW_SECTION_PAGE_SIZE, first + per_section))
    assert f"{per_section * 2}/{per_section * 2}" in last  # numbered on the whole agenda


@pytest.mark.parametrize("page", ["99", "0", "-1", "abc", ""])
def test_a_page_number_out_of_range_shows_a_page_not_an_error(client, lead, team, page):
    session = big_session(team, REVIEW_SECTION_PAGE_SIZE + 1, kinds=("checks",))
    client.force_login(lead)
    response = client.get(section_url(team, session, "checks"), {"page": page})
    assert response.status_code == 200
    assert response.context["page"].number == (1 if page in ("abc", "") else 2)


def test_an_empty_section_of_the_agenda_has_a_page_saying_so(client, viewer, team):
    session = big_session(team, 3, kinds=("incidents",))
    client.force_login(viewer)
    response = client.get(section_url(team, session, "signals"))
    assert response.status_code == 200
    assert "No item in this section of the agenda." in response.content.decode()


def test_section_pages_of_another_team_or_of_no_section_are_404(client, lead, team, other_team):
    theirs = big_session(other_team, 3)
    ours = big_session(team, 3)
    client.force_login(lead)
    assert client.get(section_url(other_team, theirs, "incidents")).status_code == 404
    # Our team's address with their session's id: still theirs, still a 404.
    assert client.get(section_url(team, theirs, "incidents")).status_code == 404
    assert client.get(section_url(team, ours, "incident")).status_code == 404  # a kind, not a section
    assert client.get(section_url(team, ours, "items")).status_code == 404
    assert client.get(section_url(team, ours, "incidents")).status_code == 200


def test_section_page_query_count_does_not_grow_with_the_section_or_the_page(client, lead, team):
    small, large = big_session(team, 5), big_session(team, 400, weeks_ago=1)
    discuss(large, "overdue", 1, 399)
    client.force_login(lead)
    counts = []
    for session, page in ((small, 1), (large, 1), (large, 8)):
        url = section_url(team, session, "overdue")
        client.get(url, {"page": page})
        with CaptureQueriesContext(connection) as queries:
            client.get(url, {"page": page})
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2]


def test_a_decision_beyond_the_board_works_and_shows_on_both_pages(client, lead, team):
    action = ActionFactory(team=team, owner=lead, title="Rotate the keys")
    n = 3 * REVIEW_SECTION_PAGE_SIZE  # on page 3 of its section, far from the board's first items
    real = {**item("overdue", n, object_id=action.pk), "title": action.title}
    session = big_session(team, 200, replace={("overdue", n): real})
    client.force_login(lead)
    decide_url = reverse("rituals:review_decide", args=[team.slug, session.pk])
    data = {"decision": "redate", "item_id": real["id"], "action_id": action.pk, "due_date": "2026-12-24"}
    response = client.post(f"{decide_url}?page=3", once(data), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith('<article class="panel agenda-item discussed"')
    assert "Rotate the keys: due 2026-12-24" in body
    assert f'hx-post="{decide_url}?page=3"' in body  # the redrawn item keeps posting from its page
    # The section's count moves with it, on whichever page the item was decided.
    assert 'id="section-overdue-progress" hx-swap-oob="true">1 of 200 discussed</span>' in body
    assert (
        "Rotate the keys: due 2026-12-24"
        in client.get(section_url(team, session, "overdue"), {"page": 3}).content.decode()
    )
    board = client.get(board_url(team, session)).content.decode()
    assert "1 of 200 discussed" in section_html(board, "overdue")
    assert "1 of 1400 items discussed" in board
    # Without JavaScript the decision comes back to the page it was taken on.
    response = client.post(f"{decide_url}?page=3", once({"decision": "discussed", "item_id": item("overdue", 7)["id"]}))
    assert response.status_code == 302
    assert response["Location"] == section_url(team, session, "overdue") + f"?page=3#item-{item('overdue', 7)['id']}"
    response = client.post(decide_url, once({"decision": "discussed", "item_id": item("incidents", 7)["id"]}))
    assert response["Location"] == board_url(team, session) + f"#item-{item('incidents', 7)['id']}"


def test_the_summary_is_complete_whatever_the_board_shows(client, lead, team, django_assert_num_queries):
    session = big_session(team, 200)
    discuss(session, "signals", 180, by=lead)
    review_board.create_action_from_board(
        session=session, item_id=item("other", 199)["id"], by=lead, title="Write the runbook", owner=None, due_date=None
    )
    session = ReviewSession.objects.get(pk=session.pk)
    with django_assert_num_queries(3):  # ritual, attendees, decisions: not one per item
        text = review_board.session_markdown(session)
    assert "2 of 1400 items discussed." in text
    assert f"other #199 — New action: Write the runbook (action created; decided by {lead.username})" in text
    left = text.split("## Not discussed")[1]
    assert left.count("\n- ") == 1398
    assert "- signals #200" in left and "- signals #180" not in left
    client.force_login(lead)
    client.post(reverse("rituals:review_close", args=[team.slug, session.pk]), {"carry_over": "1"})
    session.refresh_from_db()
    assert session.summary == text
    assert ReviewDecision.objects.filter(session=session).count() == 2


def test_the_capped_board_and_a_section_page_read_in_french(client, lead, team):
    session = big_session(team, REVIEW_SECTION_PAGE_SIZE + 1, kinds=("overdue",))
    discuss(session, "overdue", 4)
    client.force_login(lead)
    french = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}
    board = client.get(board_url(team, session), **french).content.decode()
    assert f"et {REVIEW_SECTION_PAGE_SIZE + 1 - REVIEW_SECTION_CAP} autres" in board
    assert f"1 discuté sur {REVIEW_SECTION_PAGE_SIZE + 1}" in board
    assert f"La séance montre {REVIEW_SECTION_CAP} points par rubrique" in board
    assert "Travail en retard" in board and "en retard" in board and "≈ " in board
    page = client.get(section_url(team, session, "overdue"), **french).content.decode()
    assert f"Points 1 à {REVIEW_SECTION_PAGE_SIZE} sur {REVIEW_SECTION_PAGE_SIZE + 1}" in page
    assert "Page suivante" in page and "Retour à la séance" in page
