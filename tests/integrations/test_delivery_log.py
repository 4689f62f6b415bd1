"""Leads see each incoming delivery and its outcome (settings → integrations → delivery log) and re-apply failed ones.

Since the hook answers 202 before mapping, the vendor never sees a mapping failure: this page is where
a lead does. Leads only, one team's deliveries only, a constant number of queries per page.
"""

import datetime as dt
import json
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from improvement.models import Action
from integrations.models import WebhookDelivery
from integrations.services import create_integration
from integrations.webhooks.processing import drain_inbox
from tests import factories
from tests.integrations.test_webhook_inbox import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hook(team):
    return create_integration(team=team, source="generic")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def log_url(team, integration, query: str = "") -> str:
    return reverse("integrations:deliveries", args=[team.slug, integration.pk]) + query


def reapply_url(team, integration, delivery) -> str:
    return reverse("integrations:reapply_delivery", args=[team.slug, integration.pk, delivery.pk])


def stored(integration, outcome="processed", **fields) -> WebhookDelivery:
    """A delivery row as the hook and the drain leave it (without going through them)."""
    n = WebhookDelivery.objects.count() + 1
    values = {
        "vendor_delivery_id": f"evt-{n}",
        "event": "incident",
        "body": json.dumps({"id": f"evt-{n}"}),
        "processed_at": None if outcome == "queued" else timezone.now(),
    }
    if outcome == "refused":
        values.update(vendor_delivery_id="", event="", body="")
    values.update(fields)
    return WebhookDelivery.objects.create(integration=integration, team=integration.team, outcome=outcome, **values)


def failed_for_an_unknown_owner(integration) -> WebhookDelivery:
    """A real delivery, accepted then failed by the domain rules: its owner is nobody in the team."""
    payload = {
        "id": "evt-ghost",
        "type": "action",
        "data": {"external_id": "OPS-1", "title": "Canary", "owner": "ghost"},
    }
    assert deliver(integration, payload).status_code == 202
    drain_inbox()
    delivery = WebhookDelivery.objects.get(vendor_delivery_id="evt-ghost")
    assert delivery.outcome == "failed"
    return delivery


# --- the log --------------------------------------------------------------------


def test_a_lead_sees_a_failed_delivery_with_its_error_and_fields_at_fault(team, lead, hook):
    failed_for_an_unknown_owner(hook)
    stored(hook, "processed", vendor_delivery_id="evt-fine")
    page = logged_in(lead).get(log_url(team, hook)).content.decode()
    assert "evt-ghost" in page and "evt-fine" in page
    assert '<span class="badge outcome-failed">failed (rejected by the domain rules)</span>' in page
    assert '<span class="badge outcome-processed">processed</span>' in page
    assert "<strong>owner</strong>:" in page  # the field at fault, with its message
    assert page.index("evt-fine") < page.index("evt-ghost")  # newest first
    assert "Re-apply" in page


def test_times_are_shown_in_the_teams_time_zone(lead, team, hook):
    team.timezone = "Europe/Paris"
    team.save()
    delivery = stored(hook, "processed", processed_at=dt.datetime(2026, 1, 15, 9, 30, 5, tzinfo=dt.UTC))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC))
    page = logged_in(lead).get(log_url(team, hook)).content.decode()
    assert "2026-01-15 10:30:00" in page and "2026-01-15 10:30:05" in page
    assert "Received (Europe/Paris)" in page


def test_the_log_filters_by_outcome(lead, team, hook):
    stored(hook, "processed", vendor_delivery_id="evt-done")
    stored(hook, "failed", vendor_delivery_id="evt-bad", error="severity: Unknown.")
    stored(hook, "queued", vendor_delivery_id="evt-waiting")
    client = logged_in(lead)
    failed = client.get(log_url(team, hook, "?outcome=failed")).content.decode()
    assert "evt-bad" in failed and "evt-done" not in failed and "evt-waiting" not in failed
    queued = client.get(log_url(team, hook, "?outcome=queued")).content.decode()
    assert "evt-waiting" in queued and "evt-bad" not in queued and "evt-done" not in queued


def test_an_unknown_outcome_is_a_form_error_not_a_500(lead, team, hook):
    stored(hook, "processed", vendor_delivery_id="evt-done")
    response = logged_in(lead).get(log_url(team, hook, "?outcome=exploded"))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="errorlist"' in page and "evt-done" in page  # the error, and the unfiltered log


def test_the_log_is_paginated_newest_first(lead, team, hook, settings):
    settings.UI_PAGE_SIZE = 2
    for n in range(5):
        stored(hook, "processed", vendor_delivery_id=f"evt-p{n}")
    client = logged_in(lead)
    first = client.get(log_url(team, hook)).content.decode()
    assert "evt-p4" in first and "evt-p3" in first and "evt-p2" not in first
    assert "Page 1 of 3" in first
    last = client.get(log_url(team, hook, "?page=3")).content.decode()
    assert "evt-p0" in last and "evt-p1" not in last


def test_the_filter_is_kept_across_pages(lead, team, hook, settings):
    settings.UI_PAGE_SIZE = 1
    stored(hook, "failed", vendor_delivery_id="evt-f1")
    stored(hook, "processed", vendor_delivery_id="evt-ok")
    stored(hook, "failed", vendor_delivery_id="evt-f2")
    page = logged_in(lead).get(log_url(team, hook, "?outcome=failed")).content.decode()
    assert "Page 1 of 2" in page and "outcome=failed&amp;page=2" in page


def test_the_body_is_escaped_and_cut(lead, team, hook):
    stored(hook, "failed", body='{"title": "<script>alert(1)</script>", "pad": "' + "x" * 5000 + '"}')
    page = logged_in(lead).get(log_url(team, hook)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x" * 1900 in page and "x" * 2100 not in page and "…</pre>" in page


@pytest.mark.parametrize("rows", [1, 20])
def test_the_log_takes_the_same_queries_for_1_and_20_deliveries(lead, team, hook, rows, django_assert_num_queries):
    for _ in range(rows):
        stored(hook, "failed", error="severity: Unknown.", result={"errors": {"severity": ["Unknown."]}})
    client = logged_in(lead)
    client.get(log_url(team, hook))  # the first visit also remembers the team in the session
    # session, user, membership + team, the menu's observer check and teams, integration, count, page of deliveries
    with django_assert_num_queries(8):
        response = client.get(log_url(team, hook))
    assert response.content.decode().count('class="badge outcome-failed"') == rows


def test_refused_and_duplicate_deliveries_have_no_re_apply_button(lead, team, hook):
    stored(hook, "refused", error="signature: bad signature")
    stored(hook, "duplicate")
    stored(hook, "processed")
    page = logged_in(lead).get(log_url(team, hook)).content.decode()
    assert "signature: bad signature" in page
    assert "Re-apply" not in page


# --- who may see it -------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403_on_the_log(team, hook, role):
    user = factories.MembershipFactory(team=team, role=role).user
    assert logged_in(user).get(log_url(team, hook)).status_code == 403


def test_the_log_needs_a_login(team, hook):
    response = Client().get(log_url(team, hook))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_another_teams_integration_is_404(team, other_team, lead, hook):
    theirs = create_integration(team=other_team, source="generic")
    stored(theirs, "failed", vendor_delivery_id="evt-theirs")
    client = logged_in(lead)
    assert client.get(log_url(team, theirs)).status_code == 404  # their integration under my team's URL
    assert client.get(log_url(other_team, theirs)).status_code == 404  # their team's URL
    assert client.get(log_url(other_team, hook)).status_code == 404


# --- re-apply -------------------------------------------------------------------


def test_a_failed_delivery_whose_cause_was_fixed_is_re_applied_and_shows_processed(team, lead, hook):
    delivery = failed_for_an_unknown_owner(hook)
    factories.MembershipFactory(team=team, role="member", user=factories.UserFactory(username="ghost"))
    client = logged_in(lead)
    response = client.post(reapply_url(team, hook, delivery), {"outcome": "failed", "page": "1"})
    assert response.status_code == 302
    assert response["Location"] == log_url(team, hook, f"?outcome=failed&page=1#delivery-{delivery.pk}")
    delivery.refresh_from_db()
    assert delivery.outcome == "processed" and delivery.error == ""
    assert Action.objects.get(external_id="OPS-1").owner.username == "ghost"
    page = client.get(log_url(team, hook)).content.decode()
    assert "Delivery evt-ghost applied again: processed." in page
    assert '<span class="badge outcome-processed">processed</span>' in page


def test_a_delivery_still_failing_stays_failed_with_the_message(team, lead, hook):
    delivery = failed_for_an_unknown_owner(hook)
    client = logged_in(lead)
    client.post(reapply_url(team, hook, delivery))
    delivery.refresh_from_db()
    assert delivery.outcome == "failed" and "owner" in delivery.result["errors"]
    assert "Delivery evt-ghost failed again" in client.get(log_url(team, hook)).content.decode()
    assert not Action.objects.exists()


@pytest.mark.parametrize("outcome", ["processed", "ignored", "duplicate", "refused", "queued"])
def test_only_failed_deliveries_are_re_applied(team, lead, hook, outcome, monkeypatch):
    from integrations.webhooks import processing

    delivery = stored(hook, outcome)
    applied = []
    monkeypatch.setattr(processing, "apply_delivery", applied.append)
    client = logged_in(lead)
    assert client.post(reapply_url(team, hook, delivery)).status_code == 302
    assert applied == []
    delivery.refresh_from_db()
    assert delivery.outcome == outcome
    assert "Only a failed delivery can be applied again" in client.get(log_url(team, hook)).content.decode()


def test_another_teams_delivery_cannot_be_re_applied(team, other_team, lead, hook):
    theirs = create_integration(team=other_team, source="generic")
    delivery = failed_for_an_unknown_owner(theirs)
    factories.MembershipFactory(team=other_team, user=factories.UserFactory(username="ghost"))
    client = logged_in(lead)
    assert client.post(reapply_url(team, theirs, delivery)).status_code == 404
    assert client.post(reapply_url(team, hook, delivery)).status_code == 404  # my integration, their delivery
    assert client.post(reapply_url(other_team, theirs, delivery)).status_code == 404
    delivery.refresh_from_db()
    assert delivery.outcome == "failed"
    assert not Action.objects.exists()


def test_a_member_cannot_re_apply(team, member, hook):
    delivery = failed_for_an_unknown_owner(hook)
    factories.MembershipFactory(team=team, user=factories.UserFactory(username="ghost"))
    assert logged_in(member).post(reapply_url(team, hook, delivery)).status_code == 403
    delivery.refresh_from_db()
    assert delivery.outcome == "failed"


def test_re_apply_needs_a_post_with_the_csrf_token(team, lead, hook):
    delivery = stored(hook, "failed")
    client = logged_in(lead)
    assert client.get(reapply_url(team, hook, delivery)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(lead)
    assert strict.post(reapply_url(team, hook, delivery)).status_code == 403


def test_a_bad_return_filter_is_dropped_from_the_redirect(team, lead, hook):
    delivery = stored(hook, "processed")
    response = logged_in(lead).post(reapply_url(team, hook, delivery), {"outcome": "//evil.example.com", "page": "x"})
    assert response["Location"] == log_url(team, hook, f"#delivery-{delivery.pk}")


# --- the integrations page's counts ----------------------------------------------


def test_the_integrations_page_counts_queued_and_recently_failed_deliveries(team, lead, hook):
    stored(hook, "queued")
    stored(hook, "queued")
    stored(hook, "failed")
    old = stored(hook, "failed")
    WebhookDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=8))
    stored(hook, "processed")
    page = logged_in(lead).get(reverse("integrations:integrations", args=[team.slug])).content.decode()
    assert "2 deliveries waiting to be applied" in page
    assert "1 delivery failed" in page and "in the last 7 days" in page
    assert f'href="{log_url(team, hook)}?outcome=failed">⚠ 1 failed</a>' in page
    assert f'href="{log_url(team, hook)}?outcome=queued">2 queued</a>' in page


def test_the_integrations_page_says_when_nothing_is_waiting_or_failing(team, lead, hook, other_team):
    other_hook = create_integration(team=other_team, source="generic")
    stored(other_hook, "failed")  # another team's trouble is not ours
    stored(other_hook, "queued")
    page = logged_in(lead).get(reverse("integrations:integrations", args=[team.slug])).content.decode()
    assert "No delivery waiting to be applied." in page
    assert "No delivery failed in the last 7 days." in page


def test_the_integrations_page_takes_the_same_queries_with_more_integrations(
    team, lead, hook, django_assert_num_queries
):
    stored(hook, "failed")
    client = logged_in(lead)
    url = reverse("integrations:integrations", args=[team.slug])
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for source in ("jira", "github", "pagerduty"):
        stored(create_integration(team=team, source=source), "queued")
    with django_assert_num_queries(len(one)):
        client.get(url)


def test_the_delivery_log_and_the_counts_render_in_french(team, lead, hook):
    stored(hook, "failed", vendor_delivery_id="evt-fr")
    stored(hook, "queued")
    client = logged_in(lead)
    page = client.get(log_url(team, hook), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert (
        "Appliquer de nouveau" in page and "Reçue (UTC)" in page and "en échec (rejetée par les règles métier)" in page
    )
    assert "en attente (acceptée, pas encore appliquée)" in page
    assert "Re-apply" not in page and "Received (" not in page
    integrations = client.get(
        reverse("integrations:integrations", args=[team.slug]), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert (
        "1 livraison en attente d&#x27;application" in integrations
        or "1 livraison en attente d'application" in integrations
    )
    assert "Journal des livraisons" in integrations and "sur les 7 derniers jours" in integrations


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_re_applied_twice_at_once_is_applied_once(team, monkeypatch):
    from django.core.exceptions import ValidationError

    from integrations.webhooks import generic
    from integrations.webhooks.processing import reapply_failed
    from tests.api.test_concurrency import run_together

    hook = create_integration(team=team, source="generic")
    data = {"external_id": "RACE-2", "title": "Race", "started_at": "2026-01-01T10:00:00Z"}
    delivery = stored(hook, "failed", body=json.dumps({"id": "evt-race", "type": "incident", "data": data}))
    real_plan, handled = generic.plan, []  # the incident events' mapping

    def slow_plan(integration, event, payload):
        handled.append(payload["id"])
        time.sleep(0.2)  # long enough for every other re-apply to arrive meanwhile
        return real_plan(integration, event, payload)

    monkeypatch.setattr(generic, "plan", slow_plan)
    outcomes = []

    def reapply():
        try:
            outcomes.append(reapply_failed(delivery=delivery).outcome)
        except ValidationError:
            outcomes.append("refused")

    assert run_together(reapply) == []
    assert sorted(outcomes) == ["processed", "refused", "refused", "refused"]
    assert handled == ["evt-race"]
