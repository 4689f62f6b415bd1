"""System-written text in the reader's language, French punctuation, navigation labels that cannot be confused."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import TimelineEvent
from tests.factories import IncidentFactory, TimelineEventFactory

pytestmark = pytest.mark.django_db
FR = {"HTTP_ACCEPT_LANGUAGE": "fr"}
NBSP = "\u00a0"


def test_a_status_change_is_stored_as_data_and_read_in_the_readers_language(client, member, team):
    incident = IncidentFactory(team=team)
    services.move_incident(incident=incident, move="mitigated", by=member)
    event = TimelineEvent.objects.get(incident=incident, kind="status")
    assert event.data == {"status": ["open", "mitigated"]} and event.text == ""
    client.force_login(member)
    url = reverse("incidents:detail", args=[team.slug, incident.pk])
    assert "Status changed from open to mitigated." in client.get(url).content.decode()
    french = client.get(url, **FR).content.decode()
    assert "Statut passé de ouvert à atténué." in french
    assert "Status changed" not in french
    api = client.get(f"/api/v1/incidents/{incident.pk}/", **FR).json()
    assert api["timeline"][0]["text"] == "Statut passé de ouvert à atténué."


def test_an_old_english_status_row_still_reads_in_french(client, member, team):
    incident = IncidentFactory(team=team)
    TimelineEventFactory(incident=incident, kind="status", text="Status changed from mitigated to resolved.")
    TimelineEventFactory(incident=incident, kind="note", text="Status changed from what we typed.")
    client.force_login(member)
    french = client.get(reverse("incidents:detail", args=[team.slug, incident.pk]), **FR).content.decode()
    assert "Statut passé de atténué à résolu." in french
    assert "Status changed from what we typed." in french  # a person's note is never rewritten


def test_labels_take_a_no_break_space_before_the_colon_in_french_only(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    url = reverse("incidents:detail", args=[team.slug, incident.pk])
    french = client.get(url, **FR).content.decode()
    assert f"Statut{NBSP}: ouvert" in french and "Statut: " not in french
    assert "Status: open" in client.get(url).content.decode()


def test_the_navigation_labels_cannot_be_confused_in_french(client, member, team):
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug]), **FR).content.decode()
    nav = html[html.index('<nav class="mainnav"') : html.index("</nav>")]
    assert "Indicateurs" in nav and "Tableau PDCA" in nav
    assert "Tableau de bord" not in nav
    # The team switcher's accessible name contains its visible name (no aria-label over it).
    switcher = html[html.index('class="menu team-switcher"') : html.index("</summary>")]
    assert "aria-label" not in switcher and team.name in switcher


def test_the_incident_table_labels_each_cell_for_stacked_rows_on_a_phone(client, member, team):
    IncidentFactory(team=team)
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug]), **FR).content.decode()
    assert '<table class="stack">' in html
    assert 'data-label="Gravité"' in html or 'data-label="Sévérité"' in html
    assert 'aria-controls="site-nav"' in html and 'id="site-nav"' in html
