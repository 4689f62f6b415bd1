"""End-to-end journeys in headless Chromium, walked as a new user would, with screenshots of the main pages.

Screenshots land in test-artifacts/screenshots/ (git-ignored, kept by CI as artefacts).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from improvement.models import Action, Check
from incidents.models import Incident, Postmortem
from tests.factories import PASSWORD, MembershipFactory, ServiceFactory, TeamFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.refused = []  # what the Content Security Policy (or anything else) refused in the browser
    page.on("console", lambda m: m.type == "error" and "Refused" in m.text and page.refused.append(m.text))
    page.base = live_server.url
    yield page
    context.close()


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, username):
    page.goto(page.base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def board_card(page, title):
    return page.locator("article.card", has=page.get_by_role("link", name=title))


def move_card(page, title, button, fill=None, expect_refusal=None):
    """Open the move form of a card in place, fill what the stage needs, confirm."""
    card = board_card(page, title)
    card.get_by_role("link", name=button).click()
    form = card.locator("form.move-form")
    form.wait_for()
    for selector, value in (fill or {}).items():
        field = form.locator(selector)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        elif field.get_attribute("type") == "radio":
            field.check()
        else:
            field.fill(value)
    messages = page.locator("#board .message")
    before = messages.all_inner_texts()
    form.get_by_role("button", name="Confirm the move").click()
    if expect_refusal:
        card.locator(".errorlist.nonfield").wait_for()
        assert expect_refusal in card.inner_text()
    else:
        # The board is swapped with a new message; the previous move's message must not satisfy the wait.
        if before:
            expect(messages.first).not_to_have_text(before[0])
        messages.first.wait_for()


def test_from_incident_to_postmortem_to_an_action_through_plan_do_check_act_and_in_french(page):
    team = TeamFactory(name="Platform SRE", slug="platform-sre", timezone="Europe/Paris")
    ServiceFactory(team=team, name="API gateway")
    lead = MembershipFactory(team=team, role="lead", user__username="alice").user
    other = TeamFactory(name="Payments Ops", slug="payments-ops")

    log_in(page, "alice")
    assert page.url.endswith("/t/platform-sre/dashboard/")
    assert "Payments Ops" not in page.content()
    shot(page, "01-dashboard")

    # Log an incident.
    page.get_by_role("link", name="Log an incident").first.click()
    page.fill("#id_title", "Gateway returns 502 on checkout")
    page.select_option("#id_service", label="API gateway")
    page.select_option("#id_severity", "SEV2")
    page.fill("#id_started_at", "2026-11-20T09:00")
    page.fill("#id_detected_at", "2026-11-20T08:55")  # before the start: refused on the field
    page.get_by_role("button", name="Log incident").click()
    assert "detected at cannot be before started at." in page.inner_text(".field-error")
    shot(page, "02-incident-form-error")
    page.fill("#id_detected_at", "2026-11-20T09:04")
    page.get_by_role("button", name="Log incident").click()
    page.get_by_role("heading", name="Gateway returns 502 on checkout").wait_for()
    incident = Incident.objects.get(title="Gateway returns 502 on checkout")
    assert incident.started_at.isoformat() == "2026-11-20T08:00:00+00:00"  # 09:00 in Paris

    # Add to the timeline in place (htmx): the page does not reload.
    url_before = page.url
    page.select_option("#id_kind", "action")
    page.fill("#id_text", "Rolled back the gateway config")
    page.get_by_role("button", name="Add entry").click()
    page.locator("#timeline-body").get_by_text("Rolled back the gateway config").wait_for()
    assert page.url == url_before
    shot(page, "03-incident-detail")

    # Write and publish the postmortem.
    page.get_by_role("button", name="Start the postmortem").click()
    page.get_by_role("heading", name=re.compile("Postmortem")).first.wait_for()
    page.get_by_role("button", name="Submit for review").click()
    assert "Write the summary first." in page.inner_text("[role=alert]")
    page.fill("#id_summary", "A config push broke routing to the checkout backend.")
    page.fill("#id_impact", "Checkout failed for 20 minutes for all customers.")
    page.fill("#id_what_went_well", "Rollback was quick.")
    page.get_by_role("button", name="Save the postmortem").click()
    page.select_option("#id_category", "change")
    page.fill("#id_description", "The config push reached every zone at once.")
    page.get_by_role("button", name="Add factor").click()
    page.locator("#factors-body").get_by_text("The config push reached every zone at once.").wait_for()
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Postmortem is now published.").wait_for()
    assert Postmortem.objects.get(incident=incident).status == "published"

    # Create an action from it in one step.
    page.fill("#id_title", "Canary stage for gateway config")
    page.select_option("#id_kind", "preventive")
    page.select_option("#id_owner", label="alice")
    page.get_by_role("button", name="Create action").click()
    page.locator("#pm-actions-body").get_by_role("link", name="Canary stage for gateway config").wait_for()
    shot(page, "04-postmortem")

    # Complete its plan.
    page.locator("#pm-actions-body").get_by_role("link", name="Canary stage for gateway config").click()
    page.get_by_role("link", name="Edit the plan").click()
    page.fill("#id_problem_statement", "Config pushes reach every zone at once.")
    page.fill("#id_hypothesis", "A canary zone catches a bad push before it reaches everyone.")
    page.fill("#id_due_date", "2026-12-18")
    page.select_option("#id_target_kind", "service")
    page.select_option("#id_target_service", label="API gateway")
    page.select_option("#id_target_direction", "decrease")
    page.get_by_role("button", name="Save the plan").click()
    page.get_by_text("Action updated.").wait_for()

    # Plan → Do → Check → Act → done, on the board; a refused move says why, on the card.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="PDCA board").click()
    title = "Canary stage for gateway config"
    move_card(page, title, "Start: move to Do")
    assert board_card(page, title).locator("xpath=ancestor::section").get_attribute("class").endswith("column-do")
    move_card(page, title, "Done: move to Check", expect_refusal="Show the change was made")
    shot(page, "05-board-refused-move")
    card = board_card(page, title)
    card.locator("textarea[name=note]").fill("Canary zone live since Monday.")
    card.get_by_role("button", name="Confirm the move").click()
    expect(page.locator("#board .message").first).to_contain_text("moved to Check")
    # The window has not ended: leaving Check now is the lead's override, with a reason.
    move_card(
        page,
        title,
        "Measured: move to Act",
        fill={"select[name=verdict]": "effective", "textarea[name=note]": "The canary already caught two bad pushes."},
    )
    shot(page, "06-board")
    action = Action.objects.get(title=title)
    assert action.stage == "act"
    check = Check.objects.get(action=action)
    assert (check.verdict, check.overridden, check.decided_by) == ("effective", True, lead)
    page.get_by_role("link", name=title).click()
    shot(page, "07-action-detail")
    page.get_by_role("link", name="Decide and close the cycle").click()
    page.locator("input[value=standardise]").check()
    page.get_by_role("button", name="Confirm the move").click()
    page.get_by_text("Standardise only an action").wait_for(state="detached")
    action.refresh_from_db()
    assert (action.stage, action.decision) == ("done", "standardise")
    assert [t.to_stage for t in action.transitions.all()] == ["plan", "do", "check", "act", "done"]

    # The incidents list.
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Gateway returns 502 on checkout").wait_for()
    shot(page, "08-incidents")

    # Another team's page does not exist for alice.
    response = page.goto(page.base + f"/t/{other.slug}/board/")
    assert response.status == 404
    page.go_back()

    # Switch to French.
    page.goto(page.base + "/t/platform-sre/board/")
    page.select_option("#language-select", "fr")
    page.get_by_role("button", name="Change").click()
    page.get_by_role("heading", name="Tableau PDCA").wait_for()
    assert page.locator("html").get_attribute("lang") == "fr"
    shot(page, "09-board-fr")
    page.goto(page.base + f"/t/platform-sre/incidents/{incident.pk}/")
    assert "Chronologie" in page.content()
    shot(page, "10-incident-fr")

    assert lead.is_authenticated
    assert page.refused == []


def test_the_board_on_a_phone(chromium, live_server):
    team = TeamFactory(name="Platform SRE", slug="platform-sre")
    MembershipFactory(team=team, role="member", user__username="bob")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.base = live_server.url
    log_in(page, "bob")
    page.goto(page.base + "/t/platform-sre/board/")
    # One column under another: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "11-board-phone")
    page.goto(page.base + "/t/platform-sre/incidents/new/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "12-incident-form-phone")
    context.close()


def test_a_lead_sets_up_a_ritual_then_runs_its_review_board_and_closes_it(page):
    import datetime as dt

    from django.utils import timezone

    from rituals import tick
    from rituals.models import ReviewSession, Ritual
    from tests.factories import ActionFactory, IncidentFactory

    team = TeamFactory(name="Platform SRE", slug="platform-sre", timezone="Europe/Paris")
    lead = MembershipFactory(team=team, role="lead", user__username="alice").user
    action = ActionFactory(team=team, owner=lead, title="Canary stage", due_date=timezone.localdate() - dt.timedelta(3))
    IncidentFactory(team=team, title="Gateway 502", started_at=timezone.now() - dt.timedelta(hours=3))

    log_in(page, "alice")
    page.get_by_role("navigation", name="Team").get_by_role("link", name="Review board").click()
    page.get_by_role("link", name="New ritual").click()
    page.fill("#id_name", "Weekly review board")
    page.select_option("#id_weekday", "0")
    page.fill("#id_time_of_day", "10:00")
    page.select_option("#id_attendees", label="alice")
    page.get_by_role("button", name="Save the ritual").click()
    page.get_by_text("Ritual saved.").wait_for()
    ritual = Ritual.objects.get(team=team)
    assert ritual.next_occurrence is not None

    # Celery beat's tick opens the session when the ritual is due, freezing its agenda.
    assert tick.run_tick(now=ritual.next_occurrence + dt.timedelta(minutes=1))
    session = ReviewSession.objects.get(ritual=ritual)
    page.reload()
    page.get_by_role(
        "link", name=timezone.localtime(session.occurrence, team.tzinfo).strftime("%Y-%m-%d %H:%M")
    ).click()
    page.get_by_text("items discussed").first.wait_for()
    shot(page, "13-review-board")

    incident_item = page.locator("article.agenda-item", has=page.get_by_role("link", name="Gateway 502"))
    incident_item.get_by_role("button", name="Mark as discussed").click()
    incident_item.get_by_text("✓ discussed").wait_for()
    incident_item.get_by_text("Create an action").click()
    incident_item.locator("input[name=title]").fill("Alert on gateway 502 rate")
    incident_item.get_by_role("button", name="Create the action").click()
    incident_item.get_by_text("New action: Alert on gateway 502 rate").wait_for()

    action_item = page.locator("article.agenda-item", has=page.get_by_role("link", name="Canary stage")).first
    action_item.get_by_text("Move stage").click()
    # Only the moves Plan allows are offered: no free choice of a stage the rules refuse.
    expect(action_item.get_by_role("button", name="Measured: move to Act")).to_have_count(0)
    action_item.get_by_role("button", name="Abandon").click()
    refusal = action_item.get_by_role("alert")  # the hint says the same: wait for the refusal itself
    refusal.get_by_text("Say why the action is abandoned.").wait_for()
    assert action_item.locator("details[open]").count() == 1  # the refused form stays open, with its reason
    start = action_item.locator("form.move-form", has=page.get_by_role("button", name="Start: move to Do"))
    start.locator("textarea[name=note]").fill("Agreed: start this week")
    start.get_by_role("button", name="Start: move to Do").click()
    action_item.get_by_text("Canary stage: Plan → Do").wait_for()

    page.fill("#id_notes", "Quick board: one new incident, one action started.")
    page.get_by_role("button", name="Save notes").click()
    page.get_by_role("button", name="Close the session").click()
    # The metric signals were not discussed: closing asks first, naming what will be carried over.
    page.get_by_role("heading", name="Close the session?").wait_for()
    page.get_by_role("button", name=re.compile("Close and carry")).click()
    page.get_by_role("heading", name="Summary").wait_for()
    summary = page.inner_text("div.summary")
    assert "Canary stage: Plan → Do. Agreed: start this week" in summary
    assert "New action: Alert on gateway 502 rate" in summary
    assert "alice" in summary  # the ritual's attendees are the session's
    assert "carried over to the next session" in summary
    shot(page, "14-review-summary")
    session.refresh_from_db()
    assert session.status == "closed"
    assert Action.objects.get(pk=action.pk).stage == "do"
    assert page.refused == []


def test_a_lead_walks_a_long_agenda_section_by_section(page):
    from rituals.views.agenda_items import REVIEW_SECTION_CAP, REVIEW_SECTION_PAGE_SIZE
    from tests.rituals.agendas import big_session

    team = TeamFactory(name="Platform SRE", slug="platform-sre", timezone="Europe/Paris")
    MembershipFactory(team=team, role="lead", user__username="alice")
    per_section = REVIEW_SECTION_CAP + 40
    session = big_session(team, per_section, kinds=("other", "overdue"))

    log_in(page, "alice")
    page.goto(f"{page.base}/t/{team.slug}/reviews/{session.pk}/")
    overdue = page.locator("#section-overdue")
    expect(overdue.locator("article.agenda-item")).to_have_count(REVIEW_SECTION_CAP)
    shot(page, "15-review-board-capped")
    overdue.get_by_role("link", name="and 40 more").click()
    page.get_by_role("heading", name=re.compile("Overdue work")).wait_for()
    expect(page.locator("article.agenda-item")).to_have_count(REVIEW_SECTION_PAGE_SIZE)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("article.agenda-item")).to_have_count(per_section - REVIEW_SECTION_PAGE_SIZE)
    item = page.locator("article.agenda-item", has=page.get_by_role("link", name="overdue #055"))
    item.get_by_role("button", name="Mark as discussed").click()
    item.get_by_text("✓ discussed").wait_for()
    expect(page.locator("#section-overdue-progress")).to_have_text(f"1 of {per_section} discussed")
    shot(page, "16-review-section-page")
    page.get_by_role("link", name="Back to the board").click()
    expect(page.locator("#section-overdue-progress")).to_have_text(f"1 of {per_section} discussed")
    assert page.refused == []


HOSTILE = '<img src=x id="injected" onerror="window.pwned=1"><script>window.pwned=1</script>"\'&'


def test_html_typed_into_text_fields_is_shown_as_text_in_the_browser(page):
    from incidents import services as incident_services
    from tests.factories import ActionFactory, IncidentFactory

    team = TeamFactory(slug="platform-sre")
    MembershipFactory(team=team, role="lead", user__username="alice")
    incident = IncidentFactory(team=team, title=f"Gateway {HOSTILE}", summary=HOSTILE)
    incident_services.add_timeline_event(incident=incident, text=f"Note {HOSTILE}")
    postmortem = incident_services.start_postmortem(incident=incident)
    incident_services.update_postmortem(postmortem=postmortem, summary=HOSTILE, impact=HOSTILE)
    action = ActionFactory(team=team, title=f"Fix {HOSTILE}", hypothesis=HOSTILE)
    action.incidents.add(incident)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    log_in(page, "alice")
    for path in (
        f"/t/{team.slug}/incidents/",
        f"/t/{team.slug}/incidents/{incident.pk}/",
        f"/t/{team.slug}/postmortems/{postmortem.pk}/",
        f"/t/{team.slug}/board/",
        f"/t/{team.slug}/actions/{action.pk}/",
    ):
        page.goto(page.base + path)
        page.wait_for_load_state()
        assert page.locator("#injected").count() == 0, path
        assert page.evaluate("() => window.pwned === undefined"), path
        assert "<script>window.pwned=1</script>" in page.inner_text("main"), path
    assert dialogs == []


def test_a_lead_finds_a_failed_delivery_from_the_integrations_page_and_re_applies_it(page):
    from integrations.models import WebhookDelivery
    from integrations.services import create_integration
    from integrations.webhooks.processing import drain_inbox
    from tests.integrations.test_webhook_inbox import deliver

    team = TeamFactory(slug="platform-sre")
    MembershipFactory(team=team, role="lead", user__username="alice")
    hook = create_integration(team=team, source="generic")
    # Vendor input: the title carries markup, which the log must show as text.
    data = {"external_id": "OPS-7", "title": f"Canary {HOSTILE}", "owner": "ghost"}
    assert deliver(hook, {"id": "evt-ghost", "type": "action", "data": data}).status_code == 202
    drain_inbox()
    assert WebhookDelivery.objects.get().outcome == "failed"  # nobody called ghost in the team
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    log_in(page, "alice")
    page.goto(page.base + f"/t/{team.slug}/settings/integrations/")
    expect(page.locator("#delivery-health")).to_contain_text("1 delivery failed")
    shot(page, "integrations")
    page.get_by_role("link", name="⚠ 1 failed").click()
    row = page.locator("tbody tr", has_text="evt-ghost")
    expect(row).to_contain_text("failed (rejected by the domain rules)")
    expect(row.locator("li", has_text="owner")).to_be_visible()
    row.get_by_text("body").click()
    expect(row.locator("pre")).to_contain_text("<script>window.pwned=1</script>")
    assert page.locator("#injected").count() == 0 and page.evaluate("() => window.pwned === undefined")
    shot(page, "delivery-log")

    MembershipFactory(team=team, role="member", user__username="ghost")  # the cause, fixed
    row.get_by_role("button", name="Re-apply").click()
    # Back on the failed deliveries, where it no longer is; the message says what it became.
    expect(page.locator(".messages")).to_contain_text("Delivery evt-ghost applied again: processed.")
    expect(page.locator("main")).to_contain_text("No delivery matches.")
    page.get_by_role("link", name="Reset").click()
    expect(page.locator("tbody tr", has_text="evt-ghost")).to_contain_text("processed")
    assert Action.objects.get(external_id="OPS-7").owner.username == "ghost"
    assert dialogs == [] and page.refused == []
