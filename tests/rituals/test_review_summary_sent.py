"""A closed session's summary: HTML on its page, in the team's language, sent once to who attended."""

import pytest
from django.urls import reverse

from core.text import markdown_html
from rituals import notifications, review_board, tasks
from rituals.models import Notification, ReviewSession
from tests import factories
from tests.rituals.agendas import frozen_session_of, item

pytestmark = pytest.mark.django_db


def _member(team, email, role="member"):
    return factories.MembershipFactory(team=team, role=role, user__email=email).user


def _closed_with_notes(team, lead, notes):
    session = frozen_session_of(team, [item("incidents", 1)])
    review_board.set_attendance(session=session, attendees=[lead])
    review_board.save_notes(session=session, notes=notes)
    return review_board.close_session(session=session, by=lead, carry_over=True)


def test_markdown_html_escapes_raw_html_and_drops_unsafe_links():
    html = markdown_html("# T\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) <b>b</b>", heading_offset=2)
    assert "<h3>T</h3>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert 'href="javascript' not in html


def test_the_closed_session_page_shows_the_summary_as_html_not_a_code_block(client, team, lead):
    session = _closed_with_notes(team, lead, "<img src=x onerror=alert(1)> **kept as text**")
    client.force_login(lead)
    page = client.get(reverse("rituals:review", args=[team.slug, session.pk])).content.decode()
    start = page.index('<div class="summary"')
    summary = page[start : page.index("</section>", start)]
    assert "<pre" not in summary and "<code" not in summary
    assert "<h4>Decisions</h4>" in summary and "<h4>Not discussed</h4>" in summary
    assert "<li>incidents #001</li>" in summary
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert "<strong>kept as text</strong>" not in summary  # member text is escaped before rendering


def test_the_summary_is_written_in_the_teams_language(client, lead):
    team = lead.memberships.get().team
    team.language = "fr"
    team.save()
    session = _closed_with_notes(team, lead, "rien")
    assert "## Décisions" in session.summary and "## Ordre du jour" in session.summary
    assert "**Participants\u00a0:**" in session.summary  # French typography: a no-break space before ':'

    client.force_login(lead)
    page = client.get(reverse("rituals:review", args=[team.slug, session.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "<h4>Décisions</h4>" in page.content.decode()  # the record's language, whoever reads it
    assert 'lang="fr"' in page.content.decode()


def test_an_english_team_gets_an_english_summary_whatever_the_closer_reads(team, lead, settings):
    from django.utils import translation

    session = frozen_session_of(team, [item("incidents", 1)])
    with translation.override("fr"):
        session = review_board.close_session(session=session, by=lead, carry_over=True)
    assert "## Decisions" in session.summary and "Décisions" not in session.summary


def test_closing_sends_the_summary_once_to_the_attendees(
    client, team, lead, celery_eager, mailoutbox, django_capture_on_commit_callbacks
):
    lead.email = "lead@example.com"
    lead.save()
    came = _member(team, "came@example.com")
    _member(team, "absent@example.com")
    session = frozen_session_of(team, [item("incidents", 1)])
    session.ritual.attendees.set(list(team.members.all()))
    review_board.set_attendance(session=session, attendees=[lead, came])
    client.force_login(lead)
    url = reverse("rituals:review_close", args=[team.slug, session.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"carry_over": "1"})
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {"carry_over": "1"})  # a second close (double click, reload)
    assert first.status_code == again.status_code == 302
    session.refresh_from_db()
    assert session.status == ReviewSession.Status.CLOSED
    assert sorted(m.to[0] for m in mailoutbox) == ["came@example.com", "lead@example.com"]
    assert all(m.body == session.summary and "summary" in m.subject for m in mailoutbox)
    rows = Notification.objects.filter(kind=Notification.Kind.SESSION_SUMMARY, object_id=session.pk)
    assert sorted(rows.values_list("status", flat=True)) == ["sent", "sent"]
    # A retried task and a second queueing send nothing more (the notification's once-only rule).
    for row in rows:
        tasks.send_notification.delay(row.pk)
    assert notifications.queue_session_summary(session=session) == []
    assert len(mailoutbox) == 2


def test_a_session_without_attendance_goes_to_the_rituals_invitees(team, lead, mailoutbox):
    invited = _member(team, "invited@example.com")
    session = frozen_session_of(team, [item("incidents", 1)])
    session.ritual.attendees.set([invited])
    review_board.close_session(session=session, by=lead, carry_over=True)
    row = Notification.objects.get(kind=Notification.Kind.SESSION_SUMMARY)
    assert (row.recipient, row.object_id, row.status) == ("invited@example.com", session.pk, "pending")


def test_closing_rolled_back_sends_nothing(team, lead, mailoutbox, celery_eager):
    came = _member(team, "came@example.com")
    session = frozen_session_of(team, [item("incidents", 1)])
    review_board.set_attendance(session=session, attendees=[came])
    with pytest.raises(Exception, match="carry"):
        review_board.close_session(session=session, by=lead)  # refused: items left, not confirmed
    assert not Notification.objects.filter(kind=Notification.Kind.SESSION_SUMMARY).exists()
    assert mailoutbox == []
