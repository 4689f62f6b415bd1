"""Timeline entries: their author or a lead corrects or deletes them, audited, within the incident's times."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from incidents.models import TimelineEvent
from incidents.services import update_incident
from tests.factories import IncidentFactory, MembershipFactory, TimelineEventFactory
from tests.incidents.test_incident_moves import count_queries, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(team, member):
    incident = IncidentFactory(team=team)
    return TimelineEventFactory(
        incident=incident,
        author=member,
        text="Paged the DBA.",
        occurred_at=incident.started_at + dt.timedelta(minutes=9),
    )


def edit_url(event, action="edit"):
    return reverse(f"incidents:timeline_{action}", args=[event.team.slug, event.incident_id, event.pk])


def test_its_author_corrects_an_entry_and_the_change_is_in_the_teams_audit_log(client, member, lead, team, entry):
    client.force_login(member)
    at = (entry.incident.started_at + dt.timedelta(minutes=20)).replace(second=0, microsecond=0)
    response = client.post(
        edit_url(entry), {"kind": "escalation", "occurred_at": local(at), "text": "Paged the DBA twice."}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.kind, entry.text, entry.occurred_at) == ("escalation", "Paged the DBA twice.", at)
    logged = LogEntry.objects.get_for_object(entry).filter(action=LogEntry.Action.UPDATE).get()
    assert logged.actor == member and logged.additional_data == {"team_id": team.pk}
    client.force_login(lead)
    assert "Paged the DBA twice." in client.get(reverse("teams:audit_log", args=[team.slug])).content.decode()


def test_a_lead_deletes_anyones_entry_and_the_audit_log_keeps_it(client, lead, team, entry):
    client.force_login(lead)
    response = client.post(edit_url(entry, "delete"))
    assert response.status_code == 302
    assert not TimelineEvent.objects.filter(pk=entry.pk).exists()
    deleted = LogEntry.objects.filter(object_pk=str(entry.pk), action=LogEntry.Action.DELETE).get()
    assert deleted.actor == lead and deleted.additional_data == {"team_id": team.pk}


def test_another_member_may_neither_edit_nor_delete_an_entry(client, team, entry):
    colleague = MembershipFactory(team=team, role="member").user
    client.force_login(colleague)
    page = client.get(entry.incident and reverse("incidents:detail", args=[team.slug, entry.incident_id]))
    assert edit_url(entry) not in page.content.decode()
    assert client.get(edit_url(entry)).status_code == 403
    assert (
        client.post(edit_url(entry), {"kind": "note", "occurred_at": local(entry.occurred_at), "text": "x"}).status_code
        == 403
    )
    assert client.post(edit_url(entry, "delete")).status_code == 403
    entry.refresh_from_db()
    assert entry.text == "Paged the DBA."


def test_a_viewer_and_another_team_cannot_touch_an_entry(client, viewer, team, other_team, entry):
    client.force_login(viewer)
    assert client.post(edit_url(entry, "delete")).status_code == 403
    outsider = MembershipFactory(team=other_team, role="lead").user
    client.force_login(outsider)
    assert client.get(edit_url(entry)).status_code == 404
    assert client.post(edit_url(entry, "delete")).status_code == 404
    # Another team's URL with this entry's id: the entry is looked up within the URL's team.
    theirs = IncidentFactory(team=other_team)
    url = reverse("incidents:timeline_delete", args=[other_team.slug, theirs.pk, entry.pk])
    assert client.post(url).status_code == 404
    assert TimelineEvent.objects.filter(pk=entry.pk).exists()


def test_an_entry_moved_before_the_start_or_into_the_future_is_a_field_error(client, member, entry):
    client.force_login(member)
    for at, message in (
        (entry.incident.started_at - dt.timedelta(hours=1), "before the incident started"),
        (timezone.now() + dt.timedelta(hours=2), "This time is in the future."),
    ):
        response = client.post(edit_url(entry), {"kind": "note", "occurred_at": local(at), "text": "Moved"})
        assert response.status_code == 400
        assert message in response.content.decode()
        assert "occurred_at" in response.context["form"].errors
    entry.refresh_from_db()
    assert entry.text == "Paged the DBA."


def test_deleting_with_htmx_swaps_the_timeline_in_place(client, member, entry):
    client.force_login(member)
    response = client.post(edit_url(entry, "delete"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="timeline-body">')
    assert "Paged the DBA." not in html


def test_an_untouched_time_keeps_its_seconds(client, member, entry):
    client.force_login(member)
    before = entry.occurred_at
    client.post(edit_url(entry), {"kind": "note", "occurred_at": local(before), "text": "Paged the DBA again."})
    entry.refresh_from_db()
    assert entry.occurred_at == before and entry.text == "Paged the DBA again."


def test_a_refused_entry_with_or_without_htmx_keeps_the_status_buttons_or_the_timeline(client, member, entry):
    client.force_login(member)
    url = reverse("incidents:timeline_add", args=[entry.team.slug, entry.incident_id])
    future = {
        "_once": "a" * 32,
        "kind": "note",
        "text": "Later",
        "occurred_at": local(timezone.now() + dt.timedelta(hours=3)),
    }
    plain = client.post(url, future)
    assert plain.status_code == 400 and 'value="mitigated"' in plain.content.decode()
    swapped = client.post(url, {**future, "_once": "b" * 32}, HTTP_HX_REQUEST="true")
    html = swapped.content.decode()
    assert swapped.status_code == 400 and html.startswith('<div id="timeline-body">') and "in the future" in html
    assert list(entry.incident.timeline.all()) == [entry]


def test_a_system_entry_keeps_its_text_but_a_lead_can_move_or_delete_it(client, lead, team):
    incident = IncidentFactory(team=team)
    update_incident(incident=incident, status="mitigated", mitigated_at=timezone.now())
    system = incident.timeline.get()
    client.force_login(lead)
    at = (incident.detected_at + dt.timedelta(minutes=3)).replace(second=0, microsecond=0)
    response = client.post(edit_url(system), {"kind": "status", "occurred_at": local(at), "text": "rewritten"})
    assert response.status_code == 302
    system.refresh_from_db()
    assert system.occurred_at == at and system.text == "" and system.data == {"status": ["open", "mitigated"]}


def test_the_api_edits_and_deletes_with_the_same_rules(client, member, lead, team, entry):
    colleague = MembershipFactory(team=team, role="member").user
    url = f"/api/v1/incidents/{entry.incident_id}/timeline/{entry.pk}/"
    client.force_login(colleague)
    assert client.patch(url, {"text": "Mine now"}, content_type="application/json").status_code == 403
    assert client.delete(url).status_code == 403
    client.force_login(member)
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    refused = client.patch(url, {"occurred_at": future}, content_type="application/json")
    assert refused.status_code == 400 and "occurred_at" in refused.json()["errors"]
    done = client.patch(url, {"text": "Paged the DBA (on call)."}, content_type="application/json")
    assert done.status_code == 200 and done.json()["text"] == "Paged the DBA (on call)."
    client.force_login(lead)
    assert client.delete(url).status_code == 204
    assert client.delete(url).status_code == 404
    assert not TimelineEvent.objects.filter(pk=entry.pk).exists()
    assert client.delete(f"/api/v1/incidents/{entry.incident_id}/").status_code == 405  # never the incident


def test_the_api_hides_another_teams_entry(client, other_team, entry):
    outsider = MembershipFactory(team=other_team, role="lead").user
    client.force_login(outsider)
    url = f"/api/v1/incidents/{entry.incident_id}/timeline/{entry.pk}/"
    assert client.patch(url, {"text": "x"}, content_type="application/json").status_code == 404
    assert client.delete(url).status_code == 404
    mine = IncidentFactory(team=other_team)
    assert client.delete(f"/api/v1/incidents/{mine.pk}/timeline/{entry.pk}/").status_code == 404
    assert TimelineEvent.objects.filter(pk=entry.pk).exists()


def test_the_incident_page_with_edit_links_runs_a_constant_number_of_queries(client, member, lead, team, entry):
    page = reverse("incidents:detail", args=[team.slug, entry.incident_id])
    edit = edit_url(entry)
    for user in (member, lead):
        client.force_login(user)
        client.get(page)
        small = count_queries(client, page), count_queries(client, edit)
        assert small[0][0] == 200 and small[1][0] == 200
        for _ in range(8):
            TimelineEventFactory(incident=entry.incident, author=member)
            TimelineEventFactory(incident=entry.incident, author=lead)
        assert (count_queries(client, page), count_queries(client, edit)) == small
