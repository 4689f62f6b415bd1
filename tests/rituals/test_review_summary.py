"""The Markdown record of a review session: nothing a member types can shape it."""

import pytest
from django.urls import reverse

from core.text import md_escape, md_escape_block, one_line
from improvement import services as improvement_services
from incidents import services as incident_services
from rituals import review_board
from tests.factories import ActionFactory, IncidentFactory
from tests.rituals.agendas import frozen_session_of

pytestmark = pytest.mark.django_db

HOSTILE_TITLE = "md probe\n\n## Decisions\n\n- forged line"
HOSTILE_NOTES = "[x](http://evil)\n# h\n* item\n`code` and ``more``\n1. numbered\n<b>html</b>\n---\nwww.evil.example"


def _structure(markdown: str) -> list[tuple[str, str]]:
    """(token type, text) of what a CommonMark renderer makes of `markdown`: headings, list items, links, code."""
    import markdown_it

    tokens = markdown_it.MarkdownIt("commonmark").parse(markdown)
    found = []
    for index, token in enumerate(tokens):
        if token.type in ("heading_open", "list_item_open"):
            inline = next(t for t in tokens[index:] if t.type == "inline")
            found.append((token.type, inline.content))
        for child in token.children or []:
            if child.type in ("link_open", "code_inline", "image", "html_inline"):
                found.append((child.type, child.content))
        if token.type in ("html_block", "code_block", "fence", "hr"):
            found.append((token.type, token.content))
    return found


def test_one_line_and_markdown_escapes():
    assert one_line(HOSTILE_TITLE) == "md probe ## Decisions - forged line"
    assert md_escape("[x](http://evil)") == r"\[x\]\(http\://evil\)"
    assert (
        md_escape("# h") == r"\# h"
        and md_escape("a # b") == "a # b"
        and md_escape("* item") == r"\* item"
        and md_escape("`c`") == r"\`c\`"
    )
    assert md_escape("Canary stage: Plan → Do. Agreed") == "Canary stage: Plan → Do. Agreed"  # readable
    assert md_escape_block("a\n\n- b") == "a\n\n\\- b"


def test_services_keep_one_line_titles_on_one_line(team):
    action = improvement_services.create_action(team=team, title=HOSTILE_TITLE)
    assert action.title == "md probe ## Decisions - forged line"
    action = improvement_services.update_action(action=action, title="a\nb")
    assert action.title == "a b"
    incident = IncidentFactory(team=team)
    incident = incident_services.update_incident(incident=incident, title="x\r\n- y")
    assert incident.title == "x - y"
    problem = incident_services.create_problem(team=team, title="p\n# q")
    assert problem.title == "p # q"


def test_hostile_titles_names_and_notes_add_nothing_to_the_summary(client, team, lead):
    lead.first_name, lead.last_name = "[Eve](http://evil)", "\n## Attendees"
    lead.save()
    action = ActionFactory(team=team, owner=lead, title="placeholder")
    incident = IncidentFactory(team=team)
    # Frozen before the services collapsed titles: the export must hold even for old agendas.
    items = [
        {"id": f"incident:{incident.pk}", "kind": "incident", "object_id": incident.pk, "title": HOSTILE_TITLE}
        | {"data": {"severity": "SEV2", "status": "open"}},
        {
            "id": f"action_overdue:{action.pk}",
            "kind": "action_overdue",
            "object_id": action.pk,
            "title": "* item [x](http://evil)",
        }
        | {"data": {"stage": "plan"}},
    ]
    session = frozen_session_of(team, items)
    session.ritual.name = "# Weekly\n- forged"
    session.ritual.save()
    review_board.set_attendance(session=session, attendees=[lead])
    review_board.save_notes(session=session, notes=HOSTILE_NOTES)
    review_board.mark_discussed(session=session, item_id=f"incident:{incident.pk}", by=lead, note=HOSTILE_TITLE)
    review_board.create_action_from_board(session=session, item_id=f"incident:{incident.pk}", by=lead, title="`rm`")
    session = review_board.close_session(session=session, by=lead, carry_over=True)
    structure = _structure(session.summary)
    headings = [text for kind, text in structure if kind == "heading_open"]
    assert headings[1:] == ["Agenda", "Decisions", "Not discussed", "Notes"]
    assert all(kind in ("heading_open", "list_item_open") for kind, _text in structure), structure
    items_listed = [text for kind, text in structure if kind == "list_item_open"]
    assert len(items_listed) == 2  # one decision, one item left: nothing forged
    assert "http://evil" not in session.summary and "\n## Decisions\n\n- forged" not in session.summary
    client.force_login(lead)
    export = client.get(reverse("rituals:review_export", args=[team.slug, session.pk]))
    assert export.content.decode() == session.summary
