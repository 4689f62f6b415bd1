"""Refusals look like the product, in the reader's language, with DEBUG off as in the demo and production."""

from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from tests.factories import IncidentFactory

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_with_debug_off_unless_asked():
    script = (ROOT / "scripts" / "demo.sh").read_text()
    assert 'export DEBUG="${DEBUG:-false}"' in script
    assert "DEBUG:-true" not in script


@pytest.mark.django_db
def test_it_shows_a_styled_404_in_english_and_french(client, member, team):
    client.force_login(member)
    english = client.get("/t/no-such-team/incidents/", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 404
    html = english.content.decode()
    assert "Page not found" in html and 'class="panel error-page"' in html
    assert "Using the URLconf" not in html  # never Django's URL list
    assert "opskaizen/app.css" in html
    french = client.get("/t/no-such-team/incidents/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Page introuvable" in french and '<html lang="fr">' in french


@pytest.mark.django_db
def test_another_teams_incident_is_the_same_styled_404(client, member, other_team):
    incident = IncidentFactory(team=other_team)
    client.force_login(member)
    response = client.get(reverse("incidents:detail", args=[other_team.slug, incident.pk]))
    assert response.status_code == 404
    assert "belongs to a team you are not in" in response.content.decode()


@pytest.mark.django_db
def test_a_viewer_refused_a_write_gets_a_styled_403(client, viewer, team):
    client.force_login(viewer)
    response = client.get(reverse("incidents:create", args=[team.slug]), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Vous n’avez pas le droit de faire ceci" in html
    assert team.name in html  # the header still knows the user and their teams


@pytest.mark.django_db
def test_a_bad_host_gets_a_styled_400(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "This request could not be understood" in response.content.decode()


@pytest.mark.django_db
def test_an_expired_form_gets_a_styled_403(member, team):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("incidents:create", args=[team.slug]), {})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_the_500_page_needs_no_database_and_follows_the_language():
    request = RequestFactory().get("/")
    with translation.override("fr"):
        response = defaults.server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Une erreur s’est produite de notre côté" in html
    assert "opskaizen/app.css" in html


@pytest.mark.django_db
def test_pages_never_load_the_htmx_debug_script_even_with_debug_on(client, member, team, settings):
    settings.DEBUG = True
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug])).content.decode()
    assert "django_htmx/htmx-2.min.js" in html
    assert "django-htmx.js" not in html
    # An htmx refusal with nothing to swap in is said in place, in the reader's language.
    assert 'id="request-error"' in html
