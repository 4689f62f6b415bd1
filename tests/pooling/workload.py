"""One client's work through PgBouncer, run as its own process by test_pgbouncer.py.

It goes through the product's own entry points with the product's settings (DATABASE_POOLER=
transaction): the API's by-ref upsert and lists, the dashboard page, the review board's agenda,
a team export (keyset chunks), then prints what it saw as JSON. Two of these run at once against
a pool of one server connection, so any session state (a prepared statement, a server-side
cursor, a SET) would be met by the other client's transactions.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from core.db import keyset_chunks  # noqa: E402
from incidents.models import Incident  # noqa: E402
from teams.backup import export_team  # noqa: E402
from teams.services import create_api_token  # noqa: E402
from tests import factories  # noqa: E402


def main(slug: str, rounds: int) -> dict:
    team = factories.TeamFactory(slug=slug, name=slug)
    # Each process its own user: the factory's sequence restarts in every process.
    lead = factories.MembershipFactory(team=team, role="lead", user=factories.UserFactory(username=f"{slug}-lead")).user
    _token, key = create_api_token(team=team, name="pool", scope="read_write", by=lead)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    web = Client()
    web.force_login(lead)
    statuses = []
    for n in range(rounds):
        body = {"title": f"Pooled {n}", "severity": "SEV3", "started_at": "2026-11-01T10:00:00Z"}
        statuses.append(
            api.put(f"/api/v1/incidents/by-ref/pool/{slug}-{n}/", body, content_type="application/json").status_code
        )
        # The same statement again on the same connection: psycopg would prepare it by now.
        statuses.append(
            api.put(f"/api/v1/incidents/by-ref/pool/{slug}-{n}/", body, content_type="application/json").status_code
        )
        statuses.append(api.get("/api/v1/incidents/?page_size=200").status_code)
        page = web.get(f"/t/{slug}/dashboard/")
        statuses.append(page.status_code if page.status_code != 302 else f"302 to {page['Location']}")
    listed = api.get("/api/v1/incidents/?page_size=200").json()["count"]
    chunked = sum(len(chunk) for chunk in keyset_chunks(Incident.objects.filter(team=team), size=7))
    exported = sum(1 for row in json.loads(export_team(team)) if row["model"] == "incidents.incident")
    return {
        "statuses": sorted(set(map(str, statuses))),
        "listed": listed,
        "chunked": chunked,
        "exported": exported,
        "server_side_cursors": not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
