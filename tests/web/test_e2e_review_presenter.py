"""A lead runs a weekly review in presenter mode by keyboard, closes it, and the attendees get its summary once."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from improvement.models import Action
from rituals import tick
from rituals.models import Notification, ReviewDecision, ReviewSession
from tests.factories import ActionFactory, IncidentFactory, MembershipFactory, RitualFactory, TeamFactory
from tests.web.test_e2e_journeys import log_in, page, shot  # noqa: F401 -- `page` is the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def words_in(language: str) -> dict:
    """What the pages say, from the catalogue itself (the same msgids as the templates)."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    from improvement.models import Stage

    with translation.override(language):
        return {
            "present": _("Presenter mode"),
            "item": _("Item %(n)s of %(total)s"),
            "create": _("Create an action"),
            "move": _("Move stage"),
            "start": _("Start: move to Do"),
            "close": _("Close the session"),
            "summary": _("Summary"),
            "decisions": _("Decisions"),
            "new_action": _("New action: %(title)s") % {"title": "Alert on gateway 502 rate"},
            "moved": _("%(title)s: %(old)s → %(new)s")
            % {"title": "Canary stage", "old": str(Stage.PLAN.label), "new": str(Stage.DO.label)},
        }


def seeded_weekly_review(language: str):
    """A team whose weekly review opened (the tick froze its agenda): a new SEV2 and an overdue action in Plan."""
    team = TeamFactory(name=f"Platform SRE {language}", slug=f"platform-sre-{language}", language=language)
    lead = MembershipFactory(team=team, role="lead", user__username="alice", user__email="alice@example.com").user
    bob = MembershipFactory(team=team, role="member", user__username="bob", user__email="bob@example.com").user
    ActionFactory(team=team, owner=bob, title="Canary stage", due_date=timezone.localdate() - dt.timedelta(days=3))
    IncidentFactory(team=team, title="Gateway 502", severity="SEV2", started_at=timezone.now() - dt.timedelta(hours=3))
    ritual = RitualFactory(team=team, timezone="Europe/Paris")
    ritual.attendees.set([lead, bob])
    assert tick.run_tick(now=ritual.next_occurrence + dt.timedelta(minutes=1))
    return team, ReviewSession.objects.get(ritual=ritual)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_lead_runs_the_weekly_review_in_presenter_mode_by_keyboard(
    page,  # noqa: F811
    language,
    celery_eager,
    mailoutbox,
):
    words = words_in(language)
    team, session = seeded_weekly_review(language)
    log_in(page, "alice")
    page.goto(f"{page.base}/t/{team.slug}/reviews/{session.pk}/")
    if language != "en":  # the lead reads the team's language (the summary follows the team's, not the reader's)
        page.select_option("#language-select", language)
        page.locator("#language-select").locator("xpath=ancestor::form").locator("button").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == language
    page.get_by_role("link", name=words["present"]).click()
    total = len(session.agenda["items"])
    announce = page.locator("#presenter-announce")

    for n in range(1, total + 1):
        expect(page.locator(".presenter-position")).to_have_text(words["item"] % {"n": n, "total": total})
        expect(announce).to_contain_text(words["item"] % {"n": n, "total": total})  # said to screen readers
        expect(page.locator("[data-timer]")).to_have_text(re.compile(r"\d\d:\d\d / \d\d:\d\d"))
        item = page.locator("#presenter article.agenda-item")
        title = item.locator("h3").inner_text()
        if "Gateway 502" in title:
            expect(page.locator("#presenter .presenter-context")).to_be_visible()
            summary = item.locator("summary", has_text=words["create"])
            summary.focus()
            page.keyboard.press("Enter")  # opens the form
            field = item.locator("input[name=title]")
            field.focus()
            page.keyboard.type("Alert on gateway 502 rate")
            page.keyboard.press("Enter")  # submits it: the item is redrawn in place
            expect(page.locator("#presenter article.agenda-item")).to_contain_text(words["new_action"])
            expect(announce).to_contain_text(words["new_action"])
            if n < total:
                page.keyboard.press("ArrowRight")
        elif "Canary stage" in title:
            summary = item.locator("summary", has_text=words["move"])
            summary.focus()
            page.keyboard.press("Enter")
            start = item.locator("form.move-form", has=page.get_by_role("button", name=words["start"]))
            start.locator("textarea[name=note]").focus()
            page.keyboard.type("Agreed")
            start.get_by_role("button", name=words["start"]).focus()
            page.keyboard.press("Enter")
            expect(page.locator("#presenter article.agenda-item")).to_contain_text(words["moved"])
            if n < total:
                page.keyboard.press("ArrowRight")
        else:
            page.keyboard.press("d")  # the first control: mark it discussed
            page.keyboard.press("Enter")
            expect(page.locator("#presenter article.agenda-item.discussed")).to_have_count(1)
            if n < total:
                page.keyboard.press("ArrowRight")
        if n < total:
            page.wait_for_url(re.compile(rf"item={n + 1}$"))
    if language == "en":
        shot(page, "15-presenter-mode")
    page.keyboard.press("b")  # back to the board
    page.get_by_role("button", name=words["close"]).click()  # every item decided: no confirmation
    page.get_by_role("heading", name=words["summary"], exact=True).wait_for()
    expect(page.locator("div.summary h4").first).to_be_visible()
    assert words["decisions"] in page.inner_text("div.summary")

    session.refresh_from_db()
    assert session.status == "closed"
    kinds = set(ReviewDecision.objects.filter(session=session).values_list("kind", flat=True))
    assert {"moved", "action_created"} <= kinds
    assert Action.objects.get(title="Canary stage").stage == "do"
    # The attendees got the summary, once each, in the team's language.
    summaries = [m for m in mailoutbox if m.body == session.summary]
    assert sorted(m.to[0] for m in summaries) == ["alice@example.com", "bob@example.com"]
    assert f"## {words['decisions']}" in summaries[0].body
    page.reload()
    assert Notification.objects.filter(kind="session_summary", object_id=session.pk).count() == 2
    assert len([m for m in mailoutbox if m.body == session.summary]) == 2
    assert page.refused == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_seeded_monthly_review_shows_the_months_figures(page, language):  # noqa: F811
    """seed_demo opens a monthly operations review: a lead opens it and reads the month per pole."""
    import os

    from django.core.management import call_command
    from django.utils import translation
    from django.utils.translation import gettext as _

    call_command("seed_demo", "--weeks=8", stdout=open(os.devnull, "w"))  # noqa: SIM115
    session = ReviewSession.objects.get(ritual__kind="monthly_ops_review")
    page.goto(page.base + "/accounts/login/")  # the demo's own login, as its output prints it
    page.fill("#id_username", "alice")
    page.fill("#id_password", "kaizen-demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(f"{page.base}/t/{session.team.slug}/reviews/{session.pk}/")
    if language != "en":
        page.select_option("#language-select", language)
        page.locator("#language-select").locator("xpath=ancestor::form").locator("button").click()
        page.wait_for_load_state()
    with translation.override(language):
        heading, reliability, problems = _("The month in review"), _("Reliability"), _("Top recurring problems")
    month = page.locator("#month")
    expect(month.get_by_role("heading", name=heading)).to_be_visible()
    expect(month.get_by_role("heading", name=reliability, exact=True)).to_be_visible()
    expect(month.get_by_role("heading", name=problems)).to_be_visible()
    incidents = next(
        t for pole in session.agenda["monthly"]["poles"] for t in pole["trends"] if t["key"] == "incidents"
    )
    expect(month.get_by_role("rowheader", name=incidents["label"], exact=True)).to_be_visible()
    assert month.locator("tbody tr").count() >= 3
    if language == "en":
        shot(page, "16-monthly-review")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the poles stack, nothing overflows
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1
    assert page.refused == []
