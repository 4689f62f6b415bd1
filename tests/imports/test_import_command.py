"""manage.py import_csv: the same engine from a shell, with a dry run first."""

import io

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command

from imports.models import ImportMapping
from incidents.models import Incident
from tests.imports.conftest import FILES

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("import_csv", *args, stdout=out)
    return out.getvalue()


def test_the_dry_run_reports_and_writes_nothing(team, lead, services_of_team):
    out = run("incidents", str(FILES / "jira_incidents.csv"), "--team", team.slug, "--source", "jira", "--dry-run")
    assert "3 rows, utf-8-bom, separator ','" in out
    assert "3 would be created, 0 would be updated, 0 refused (checked)" in out
    assert not Incident.objects.exists()


def test_it_imports_then_updates_on_the_second_run(team, lead, services_of_team):
    args = ("incidents", str(FILES / "jira_incidents.csv"), "--team", team.slug, "--source", "jira")
    out = run(*args, "--user", lead.username, "--timezone", "Europe/Paris")
    assert "3 were created, 0 were updated, 0 refused (imported)" in out
    assert "0 were created, 3 were updated" in run(*args)
    assert Incident.objects.filter(team=team).count() == 3
    entry = LogEntry.objects.filter(object_repr__contains="jira_incidents.csv").order_by("timestamp", "id").first()
    assert entry.actor == lead and "3 created" in entry.additional_data["reason"]
    assert ImportMapping.objects.get(team=team, source="jira").timezone == "Europe/Paris"


def test_refused_rows_fail_the_command_with_their_lines(team, services_of_team):
    with pytest.raises(CommandError, match="Nothing was written"):
        run("incidents", str(FILES / "bad_rows.csv"), "--team", team.slug, "--source", "tool")
    assert not Incident.objects.exists()


def test_mappings_from_the_command_line(team, services_of_team):
    out = run(
        "incidents",
        str(FILES / "bad_rows.csv"),
        "--team",
        team.slug,
        "--source",
        "tool",
        "--value",
        "severity:whatever=SEV2",
        "--value",
        "service:mainframe=",
        "--skip-refused",
    )
    assert "3 were created, 0 were updated, 4 refused (imported)" in out
    assert "line 4: started_at (column 'started_at'):" in out
    assert Incident.objects.get(external_id="B-2").severity == "SEV2"
    assert Incident.objects.get(external_id="B-6").service is None


def test_bad_arguments_are_errors(team):
    with pytest.raises(CommandError, match="No team"):
        run("incidents", str(FILES / "bad_rows.csv"), "--team", "nope", "--source", "x")
    with pytest.raises(CommandError, match="title: Choose the column"):
        run("incidents", str(FILES / "bad_rows.csv"), "--team", team.slug, "--source", "x", "--column", "title=")
