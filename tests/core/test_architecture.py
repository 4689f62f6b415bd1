"""docs/architecture.md lists every URL the product serves with its view: a newcomer goes from a URL to the code."""

import importlib
import re
from pathlib import Path

from tests.core.architecture_urls import url_rows

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(?P<route>[^`]*)` \| `(?P<name>[^`]+)` \| `(?P<view>[^`]+)` \| (?P<calls>.*) \|$")


def documented() -> dict[tuple[str, str, str], str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line):
            rows[(match["route"], match["name"], match["view"])] = match["calls"].strip()
    return rows


def test_every_url_is_in_the_table_with_its_view():
    served = set(url_rows())
    table = documented()
    missing = sorted(served - set(table))
    assert not missing, "add to docs/architecture.md:\n" + "\n".join(
        f"| `{route}` | `{name}` | `{view}` | <what it calls> |" for route, name, view in missing
    )


def test_no_row_names_a_url_or_a_view_that_is_gone():
    stale = sorted(set(documented()) - set(url_rows()))
    assert stale == [], f"remove or fix in docs/architecture.md: {stale}"


def test_every_row_says_what_the_view_calls_and_names_real_code():
    for (route, _name, view), calls in documented().items():
        assert calls and calls != "—", f"{route}: say which service or selector {view} calls"
        for dotted in re.findall(
            r"`((?:core|teams|incidents|improvement|reporting|rituals|integrations)\.[\w.]+)`", calls
        ):
            module, _, attr = dotted.rpartition(".")
            try:
                target = importlib.import_module(dotted)
            except ImportError:
                target = getattr(importlib.import_module(module), attr, None)
            assert target is not None, f"{route}: {dotted} does not exist"


def test_the_table_reads_the_real_url_conf():
    """The rows come from Django's resolver, not a copy: a known route and its view are there."""
    rows = set(url_rows())
    assert (
        "t/<slug:team_slug>/actions/<int:pk>/move/",
        "improvement:action_move",
        "improvement.views.actions.action_move",
    ) in rows
    assert (
        "api/v1/incidents/by-ref/<source>/<external_id>/",
        "incident-by-ref",
        "incidents.api.IncidentViewSet",
    ) in rows
    assert not any(route.startswith("admin/") for route, _, _ in rows)
