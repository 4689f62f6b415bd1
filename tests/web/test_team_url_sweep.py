"""Every team page, read from the URL conf: a stranger always gets 404, a member below the page's role 403.

The rule is chosen once, in teams.decorators.team_view: another team's page is a 404 (no hint that
it exists), a page above your role in your own team is a 403. New pages join this sweep by
existing: the routes come from Django's resolver (tests/core/architecture_urls.py).
"""

import re

import pytest
from django.test import Client

from tests import factories
from tests.core.architecture_urls import url_rows

pytestmark = pytest.mark.django_db


def _team_urls(team_slug: str) -> list[str]:
    urls = []
    for route, _name, _view in url_rows():
        if not route.startswith("t/<slug:team_slug>/"):
            continue
        path = route.replace("<slug:team_slug>", team_slug)
        path = re.sub(r"<int:\w+>", "999999", path)
        path = re.sub(r"<(?:slug:|str:)?\w+>", "x", path)
        urls.append("/" + path)
    return urls


def test_the_sweep_covers_the_team_pages():
    urls = _team_urls("t")
    assert len(urls) >= 40
    assert "/t/t/settings/tokens/" in urls and "/t/t/board/" in urls


def test_a_lead_of_another_team_gets_404_on_every_page_of_this_team_get_and_post(team, other_team):
    stranger = factories.MembershipFactory(team=other_team, role="lead").user
    client = Client()
    client.force_login(stranger)
    for url in _team_urls(team.slug):
        answers = {client.get(url).status_code, client.post(url, {"title": "x"}).status_code}
        # 405 for the method a page does not take comes before any lookup, for any slug: no hint.
        assert 404 in answers and answers <= {404, 405}, (url, answers)


def test_a_viewer_never_gets_past_a_page_above_their_role(team):
    """A viewer's POST anywhere is refused (403, or 404/405 where nothing is there to act on)."""
    viewer = factories.MembershipFactory(team=team, role="viewer").user
    client = Client()
    client.force_login(viewer)
    refused = {}
    for url in _team_urls(team.slug):
        status = client.post(url, {"title": "x"}).status_code
        refused[url] = status
        assert status in (403, 404, 405), (url, status)
    # The pages that exist without an object id answer 403 (or 405 for read-only pages), never 404.
    no_id = {url: s for url, s in refused.items() if "999999" not in url and "/x/" not in url}
    assert no_id and all(s in (403, 405) for s in no_id.values()), no_id
