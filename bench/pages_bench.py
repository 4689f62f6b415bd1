"""SQL query count and time of the team pages and every list endpoint, at two data sizes.

    python bench/pages_bench.py --small postgres://…/opskaizen_bench2_small --large postgres://…/opskaizen_bench2

Both databases are filled by bench/generate.py (the large one with the defaults, 100k
incidents; the small one with e.g. --incidents 300 --changes 600 --actions 60), so the
measured team `bench-00` has the same shape at both sizes. In each database the script
adds (idempotently) a lead of bench-00, a read API token, a weekly-review ritual and its
open review session, then renders every page and list endpoint once to count the SQL
queries, and --rounds more times on the large database for the median time. It prints
one table and exits 1 when a query count differs between the sizes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _django import ROOT, setup

PAGED_SECTION = "if_time_allows"
PAGES = [
    ("page", "dashboard", "/t/{slug}/dashboard/"),
    ("page", "review board (session)", "/t/{slug}/reviews/{session}/"),
    # The section a backlog fills at any size (what does not fit in the meeting): its page 2 has 50
    # items, action items among them, on both databases (bench/generate.py: MIN_ACTIONS_PER_TEAM).
    ("page", "review board section p.2", "/t/{slug}/reviews/{session}/sections/" + PAGED_SECTION + "/?page=2"),
    ("page", "actions board", "/t/{slug}/board/"),
    ("page", "incidents list", "/t/{slug}/incidents/"),
    ("page", "rituals", "/t/{slug}/rituals/"),
    ("page", "members", "/t/{slug}/settings/members/"),
    ("page", "audit log", "/t/{slug}/audit/"),
    ("api", "teams", "/api/v1/teams/"),
    ("api", "memberships", "/api/v1/memberships/"),
    ("api", "services", "/api/v1/services/"),
    ("api", "incidents", "/api/v1/incidents/"),
    ("api", "problems", "/api/v1/problems/"),
    ("api", "postmortems", "/api/v1/postmortems/"),
    ("api", "changes", "/api/v1/changes/"),
    ("api", "actions", "/api/v1/actions/"),
    ("api", "rituals", "/api/v1/rituals/"),
    ("api", "review-sessions", "/api/v1/review-sessions/"),
]


def prepare():
    """A lead of bench-00, a read token, a ritual and its open review session (through the services)."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from rituals import services as ritual_services
    from rituals import tick
    from rituals.models import ReviewSession, Ritual
    from teams import services
    from teams.models import ApiToken, Membership, Team

    team = Team.objects.get(slug="bench-00")
    user, _ = get_user_model().objects.get_or_create(username="bench-pages-lead")
    if not Membership.objects.filter(team=team, user=user).exists():
        services.add_member(team=team, user=user, role=Membership.Role.LEAD)
    _token, key = services.create_api_token(team=team, name="pages bench", scope=ApiToken.Scope.READ, by=user)
    ritual = Ritual.objects.filter(team=team, name="Bench weekly review").first()
    if ritual is None:
        ritual = ritual_services.create_ritual(
            team=team,
            name="Bench weekly review",
            kind=Ritual.Kind.WEEKLY_REVIEW,
            weekday=0,
            time_of_day=dt.time(10, 0),
            timezone=team.timezone,
            attendees=[user],
        )
    session = ReviewSession.objects.filter(ritual=ritual).order_by("-occurrence").first()
    if session is None:
        with transaction.atomic():
            ritual = Ritual.objects.select_for_update().get(pk=ritual.pk)
            session = tick.open_session(ritual=ritual, now=timezone.now() + dt.timedelta(days=7))
    return team, user, key, session


def measure(rounds: int) -> dict:
    setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents.models import Incident
    from reporting import dashboards
    from rituals import agenda
    from rituals.views.agenda_items import REVIEW_SECTION_PAGE_SIZE

    team, user, key, session = prepare()
    paged = (session.agenda or {}).get("counts", {}).get(PAGED_SECTION, 0)
    if paged <= REVIEW_SECTION_PAGE_SIZE:  # its page 2 would be its page 1: not the same reads as at 100k
        sys.exit(
            f"the review agenda's {PAGED_SECTION!r} section has {paged} items, no page 2: "
            "regenerate this database with bench/generate.py (each team gets MIN_ACTIONS_PER_TEAM actions)"
        )
    web = Client(SERVER_NAME="127.0.0.1")
    web.force_login(user)
    api = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    rows = {}
    for kind, name, template in PAGES:
        client = web if kind == "page" else api
        url = template.format(slug=team.slug, session=session.pk)
        client.get(url)  # warm (imports, template loading, caches)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        count = len(queries)  # now: the log it reads is reset by the next request
        if response.status_code != 200:
            sys.exit(f"{url}: HTTP {response.status_code}")
        times = []
        for _ in range(rounds):
            began = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - began) * 1000)
        rows[f"{kind} {name}"] = {"url": url, "queries": count, "ms": statistics.median(times) if times else None}
    # The board reuses its live metric signals within a tick (rituals.agenda.SIGNALS_CACHE_SECONDS), and
    # the default dashboard is computed ahead by beat (reporting/dashboards.py): the rows above are what
    # a view within the tick costs; these are the first view of a tick, which computes them itself.
    templates = {name: template for _kind, name, template in PAGES}
    firsts = {
        "review board (session)": lambda: cache.delete(agenda.signals_cache_key(team, timezone.now())),
        "dashboard": lambda: cache.delete(dashboards._key("board", team)),
    }
    for name, forget in firsts.items():
        url = templates[name].format(slug=team.slug, session=session.pk)
        cold = []
        for _ in range(rounds):
            forget()
            began = time.perf_counter()
            web.get(url)
            cold.append((time.perf_counter() - began) * 1000)
        rows[f"page {name} (tick's first)"] = {
            "url": url,
            "queries": rows[f"page {name}"]["queries"],
            "ms": statistics.median(cold) if cold else None,
        }
    return {
        "incidents": Incident.objects.count(),
        "team_incidents": Incident.objects.filter(team=team).count(),
        "rows": rows,
    }


def run_on(database_url: str, rounds: int) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "false"}
    cmd = [sys.executable, str(ROOT / "bench" / "pages_bench.py"), "--measure", "--rounds", str(rounds)]
    done = subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, cwd=ROOT)  # noqa: S603
    if done.returncode:
        sys.exit(f"pages bench on {database_url}: {done.stderr.strip()[-2000:]}")
    output = done.stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", help="DATABASE_URL of the small dataset")
    parser.add_argument("--large", default=os.environ.get("DATABASE_URL"), help="DATABASE_URL of the 100k dataset")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file (bench/summary.py reads it)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.rounds)))
        return
    if not args.small or not args.large:
        sys.exit("Give --small and --large (DATABASE_URLs), see bench/README.md.")
    small, large = run_on(args.small, 0), run_on(args.large, args.rounds)
    print(
        f"team bench-00: {small['team_incidents']} incidents (database {small['incidents']}) vs "
        f"{large['team_incidents']} incidents (database {large['incidents']}); median of {args.rounds} GETs, "
        "in-process Django test client, DEBUG off"
    )
    print(f"{'page / endpoint':<32} {'queries small':>13} {'queries 100k':>12} {'ms at 100k':>10}")
    differ = []
    for name, row in large["rows"].items():
        small_queries = small["rows"][name]["queries"]
        mark = "" if small_queries == row["queries"] else "  DIFFERS"
        if mark:
            differ.append(name)
        print(f"{name:<32} {small_queries:>13} {row['queries']:>12} {row['ms']:>10.1f}{mark}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"small": small, "large": large, "differ": differ}, out, indent=2)
    if differ:
        sys.exit(f"query count depends on data size: {', '.join(differ)}")
    print("query counts: the same at both sizes")


if __name__ == "__main__":
    main()
