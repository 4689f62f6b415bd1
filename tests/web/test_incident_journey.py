"""From first alert to published postmortem in headless Chromium: English on a desktop, French on a phone.

Every page walked is checked with axe-core (node_modules, from package.json by `npm ci`): no serious or
critical violation.
"""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from improvement.models import Action
from incidents.models import Change, Incident, Postmortem
from tests.factories import PASSWORD, ChangeFactory, MembershipFactory, ServiceFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.exists():
        if os.environ.get("OPSKAIZEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{AXE} is missing: run `npm ci`", pytrace=False)
        pytest.skip(f"{AXE} is missing: run `npm ci`")
    return AXE.read_text()


def assert_accessible(page, axe_source):
    """axe-core on the page as it stands: no serious or critical violation."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a page script: the CSP stays as in production.
        page.evaluate(axe_source + "\n;0")
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    bad = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def open_nav(page, phone):
    if phone:
        menu = page.locator(".nav-toggle")
        expect(page.locator(".mainnav")).to_be_hidden()
        menu.click()
        expect(page.locator(".mainnav")).to_be_visible()


def log_in(page, base, username):
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


TEXT = {
    "en": {"log": "Log an incident", "ack": "Acknowledge", "resolve": "Mark resolved", "start": "Start the postmortem",
           "save": "Save the postmortem", "factor": "Add factor", "submit": "Submit for review", "publish": "Publish",
           "before": "cannot be before", "own": "Someone other than the author",
           "published": "Reviewed and published by", "status": "Status changed from open to resolved."},
    "fr": {"log": "Déclarer un incident", "ack": "Prendre en compte", "resolve": "Marquer « résolu »",
           "start": "Commencer le post-mortem", "save": "Enregistrer le post-mortem", "factor": "Ajouter le facteur",
           "submit": "Soumettre à la revue", "publish": "Publier", "before": "ne peut pas précéder",
           "own": "Une autre personne que l’auteur", "published": "Relu et publié par",
           "status": "Statut passé de ouvert à résolu."},
}  # fmt: skip


@pytest.mark.parametrize(
    "lang,viewport",
    [("en", {"width": 1366, "height": 900}), ("fr", {"width": 390, "height": 844})],
    ids=["en-desktop", "fr-phone"],
)
def test_an_incident_from_first_alert_to_published_postmortem(chromium, live_server, axe_source, lang, viewport):
    t = {k: v.replace("« ", "«\u00a0").replace(" »", "\u00a0»") for k, v in TEXT[lang].items()}
    phone = viewport["width"] < 600
    team = TeamFactory(name="Payments", slug="payments")
    gateway = ServiceFactory(team=team, name="Gateway")
    culprit = ChangeFactory(team=team, service=gateway, title="Gateway v42", kind=Change.Kind.EMERGENCY,
                            deployed_at=timezone.now() - dt.timedelta(days=90))  # fmt: skip
    ChangeFactory.create_batch(55, team=team, service=gateway)  # newer: the culprit is found by search only
    author = MembershipFactory(team=team, role="member", user__username="alice").user
    MembershipFactory(team=team, role="lead", user__username="lea")
    context = chromium.new_context(viewport=viewport, locale="fr-FR" if lang == "fr" else "en-GB", is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused = []
    page.on("console", lambda m: m.type == "error" and "Refused" in m.text and refused.append(m.text))
    base = live_server.url
    try:
        log_in(page, base, "alice")
        page.goto(f"{base}/t/payments/incidents/")
        open_nav(page, phone)
        assert_accessible(page, axe_source)
        page.get_by_role("link", name=t["log"]).first.click()
        assert page.locator("#id_started_at").input_value()  # "started at" defaults to now
        assert_accessible(page, axe_source)
        page.fill("#id_title", "Checkout 502s")
        # The change picker: typing narrows the list to the whole log's matches, named by date, service, kind.
        picker = page.locator("#id_caused_by_change")
        expect(picker.locator(f'option[value="{culprit.pk}"]')).to_have_count(0)
        page.locator("#change-search").press_sequentially("v42")
        expect(picker.locator(f'option[value="{culprit.pk}"]')).to_contain_text("Gateway ·")
        picker.select_option(str(culprit.pk))
        page.select_option("#id_commander", label="lea")
        page.select_option("#id_scribe", label="alice")
        assert_accessible(page, axe_source)
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state()
        incident = Incident.objects.get(title="Checkout 502s")
        assert (incident.caused_by_change, incident.commander.username, incident.scribe) == (culprit, "lea", author)
        # An acknowledgement before the start: a field error on the page, nothing written.
        early = timezone.localtime(incident.started_at - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        page.fill("#id_at", early)
        page.get_by_role("button", name=t["ack"]).click()
        expect(page.locator("#id_at_errors")).to_contain_text(t["before"])
        incident.refresh_from_db()
        assert incident.acknowledged_at is None
        assert_accessible(page, axe_source)
        page.fill("#id_at", "")
        page.get_by_role("button", name=t["ack"]).click()
        expect(page.get_by_role("button", name=t["ack"])).to_have_count(0)
        # A timeline entry in the future: a field error in place, nothing written.
        later = timezone.localtime(timezone.now() + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
        page.fill("#id_occurred_at", later)
        page.fill("#id_text", "Too early to tell.")
        page.locator("#timeline-body form:not(.inline) button[type=submit]").last.click()
        expect(page.locator("#id_occurred_at_errors")).to_be_visible()
        assert not incident.timeline.filter(text="Too early to tell.").exists()
        page.fill("#id_occurred_at", "")
        page.fill("#id_text", "Rolled back the gateway.")
        page.locator("#timeline-body form:not(.inline) button[type=submit]").last.click()
        expect(page.locator("#timeline-body")).to_contain_text("Rolled back the gateway.")
        # Its author corrects the entry.
        entry = incident.timeline.get(text="Rolled back the gateway.")
        page.locator(f'a[href$="/timeline/{entry.pk}/edit/"]').click()
        assert_accessible(page, axe_source)
        page.fill("#id_text", "Rolled back the gateway to v41.")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("#timeline-body")).to_contain_text("Rolled back the gateway to v41.")
        page.get_by_role("button", name=t["resolve"]).click()
        expect(page.locator("#timeline-body")).to_contain_text(t["status"])
        assert_accessible(page, axe_source)
        page.get_by_role("button", name=t["start"]).click()
        page.fill("#id_summary", "The gateway returned 502s after a deploy.")
        page.fill("#id_impact", "12 minutes of failed checkouts.")
        page.get_by_role("button", name=t["save"]).click()
        page.wait_for_load_state()
        page.fill("#factors textarea", "No canary stage before a full deploy.")
        page.get_by_role("button", name=t["factor"]).click()
        expect(page.locator("#factors")).to_contain_text("No canary stage")
        # An action that addresses the factor, created from the postmortem.
        factor = Postmortem.objects.get().factors.get()
        page.fill("#pm-actions-body input[name=title]", "Add a canary stage")
        page.select_option("#pm-actions-body select[name=addresses_factor]", str(factor.pk))
        page.locator("#pm-actions-body button[type=submit]").click()
        expect(page.locator("#pm-actions-body")).to_contain_text("Add a canary stage")
        expect(page.locator("#factors-body")).to_contain_text("Add a canary stage")  # swapped out of band
        assert Action.objects.get(title="Add a canary stage").addresses_factor == factor
        page.get_by_role("button", name=t["submit"]).click()
        page.wait_for_load_state()
        # Publishing one's own postmortem in a team with others: refused, nothing written.
        page.get_by_role("button", name=t["publish"]).click()
        expect(page.locator("main .errorlist.nonfield")).to_contain_text(t["own"])
        assert Postmortem.objects.get().status == "in_review"
        assert_accessible(page, axe_source)
        page.context.clear_cookies()
        log_in(page, base, "lea")
        page.goto(f"{base}/t/payments/postmortems/{Postmortem.objects.get().pk}/")
        page.get_by_role("button", name=t["publish"]).click()
        expect(page.locator("#review-facts")).to_contain_text(t["published"])
        postmortem = Postmortem.objects.get()
        assert postmortem.status == "published" and postmortem.reviewed_by.username == "lea"
        assert postmortem.author == author
        assert_accessible(page, axe_source)
        for path in ("/t/payments/dashboard/", "/t/payments/board/", "/t/payments/rituals/", "/t/nowhere/"):
            page.goto(base + path)
            assert_accessible(page, axe_source)
        assert refused == []
    finally:
        context.close()
