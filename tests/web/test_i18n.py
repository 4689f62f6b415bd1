"""Every page in English and French: the French catalogue is complete and compiled, and pages follow the language."""

import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import ActionFactory, IncidentFactory

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES"


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr forms and flags (the header excluded)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry, key = {"flags": [], "msgstr": {}}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
            elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d)\])?) "(.*)"$', line):
                key = match.group(1)
                value = match.group(3)
                if key.startswith("msgstr"):
                    key = ("msgstr", match.group(2) or "0")
                    entry["msgstr"][key[1]] = value
                else:
                    entry[key] = value
            elif line.startswith('"') and key:
                value = line[1:-1]
                if isinstance(key, tuple):
                    entry["msgstr"][key[1]] += value
                else:
                    entry[key] += value
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def test_the_french_catalogue_has_no_untranslated_or_fuzzy_entry():
    entries = po_entries(LOCALE / "django.po")
    assert len(entries) > 300
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []
    plurals = [e for e in entries if "msgid_plural" in e]
    assert plurals and all(set(e["msgstr"]) == {"0", "1"} for e in plurals)


def test_the_committed_mo_matches_the_po():
    """The demo machine has no gettext: the compiled catalogue is committed and must be current."""
    with open(LOCALE / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in po_entries(LOCALE / "django.po"):
        msgid = entry["msgid"].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        expected = entry["msgstr"]["0"].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        if "msgid_plural" in entry:
            plural = entry["msgid_plural"].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
            got = compiled.ngettext(msgid, plural, 1)
        else:
            got = compiled.gettext(msgid) if "msgctxt" not in entry else expected
        if got != expected:
            stale.append(msgid)
    assert stale == []


@pytest.mark.django_db
def test_a_page_renders_in_french_from_the_browser_language(client, member, team):
    IncidentFactory(team=team, severity="SEV1")
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug]), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content
    html = html.decode()
    assert '<html lang="fr">' in html
    assert "Déclarer un incident" in html
    assert "Tableau PDCA" in html
    assert "ouvert" in html  # the status badge, from the model's choices
    assert "Log an incident" not in html


@pytest.mark.django_db
def test_the_language_chosen_in_the_ui_wins_over_the_browser(client, member, team):
    action = ActionFactory(team=team, owner=member)
    client.force_login(member)
    url = reverse("improvement:action_detail", args=[team.slug, action.pk])
    response = client.post(reverse("set_language"), {"language": "fr", "next": url}, HTTP_ACCEPT_LANGUAGE="en")
    assert response["Location"] == url
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Historique des étapes" in html
    assert "Modifier le plan" in html


@pytest.mark.django_db
def test_the_token_and_integration_settings_pages_render_in_french(client, lead, team):
    from integrations.services import create_integration, create_outgoing_webhook
    from teams.services import create_api_token, revoke_api_token

    create_api_token(team=team, name="CI", by=lead)
    revoke_api_token(token=create_api_token(team=team, name="Old", by=lead)[0])
    create_integration(team=team, source="jira")
    create_outgoing_webhook(team=team, url="https://chat.example.com/hook")
    client.force_login(lead)
    tokens = client.get(f"/t/{team.slug}/settings/tokens/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Jetons d&#x27;API de" in tokens or "Jetons d'API de" in tokens
    assert "Créer le jeton" in tokens and "dernière utilisation" in tokens and "jamais" in tokens
    # A token is masculine in French: its status reads "actif"/"révoqué", not the feed address's "active"/"révoquée".
    assert "<td>actif</td>" in tokens and "révoqué 20" in tokens
    assert "Create token" not in tokens and "last used" not in tokens
    integrations = client.get(f"/t/{team.slug}/settings/integrations/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Intégrations par webhook de" in integrations
    assert "secret de signature" in integrations and "Renouveler le secret" in integrations
    assert "Webhooks sortants" in integrations and "tous les événements" in integrations
    assert "Outgoing webhooks" not in integrations and "Rotate secret" not in integrations
