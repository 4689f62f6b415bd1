"""Login throttling and the audit log."""

import pytest
from django.urls import reverse

from improvement import services as improvement
from incidents import services as incidents
from tests.factories import PASSWORD, ActionFactory, IncidentFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_is_locked_after_repeated_failures_even_with_the_right_password(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = login(client, member.username, "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert "correct username and password" in response.content.decode()
    assert login(client, member.username, "wrong").status_code == 429  # the last allowed failure locks
    response = login(client, member.username, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_successful_login_resets_the_failure_count(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, member.username, "wrong")
    assert login(client, member.username, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, member.username, "wrong")
    assert login(client, member.username, PASSWORD).status_code == 302


def test_lockout_of_one_user_does_not_lock_another(client, team, member, settings):
    other = MembershipFactory(team=team).user
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        login(client, member.username, "wrong")
    assert login(client, other.username, PASSWORD).status_code == 302


def test_changes_are_audited_with_their_author_and_team(client, team, lead, member):
    incident = incidents.create_incident(team=team, title="Gateway down", started_at=IncidentFactory.build().started_at)
    client.force_login(member)
    incidents.update_incident(incident=incident, severity="SEV1")
    action = ActionFactory(team=team)
    improvement.move_action(action=action, to_stage="do", by=member)
    client.force_login(lead)
    page = client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()
    assert "Gateway down" in page
    assert "SEV3 → SEV1" in page
    assert "plan → do" in page


def test_audit_log_is_for_leads_of_the_team_only(client, team, member, other_team):
    IncidentFactory(team=team, title="Secret outage")
    url = reverse("teams:audit_log", args=[team.slug])
    client.force_login(member)
    assert client.get(url).status_code == 403
    foreign_lead = MembershipFactory(team=other_team, role="lead").user
    client.force_login(foreign_lead)
    assert client.get(url).status_code == 404
    assert "Secret outage" not in client.get(reverse("teams:audit_log", args=[other_team.slug])).content.decode()


def test_audit_log_page_query_count_does_not_grow_with_entries(client, team, lead):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(lead)
    url = reverse("teams:audit_log", args=[team.slug])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url).content.decode()
        return len(captured), page.count("<tr>")

    client.get(url)  # the first visit of a team records it in the session: not part of the page's cost
    IncidentFactory.create_batch(3, team=team)
    few, few_rows = queries()
    IncidentFactory.create_batch(30, team=team)
    many, many_rows = queries()
    assert many_rows > few_rows > 1
    assert many == few


def test_pages_send_the_security_headers(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_login_page_has_no_inline_script(client):
    import re

    html = client.get(reverse("login")).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
