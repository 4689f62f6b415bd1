"""The import engine: files as the tools write them, through the incident and change services."""

import datetime as dt
import zoneinfo

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError

from imports import csvfile, fields, services
from imports.models import ImportMapping, ImportRun
from improvement.models import Action
from incidents.measures.scope import build_scope
from incidents.models import Change, Incident
from reporting.metrics.figures import period_figures
from tests import factories
from tests.imports.conftest import upload

pytestmark = pytest.mark.django_db
UTC = dt.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def dry_run(run):
    return services.run_now(run=run, dry_run=True)


def import_(run):
    if run.state == ImportRun.State.UPLOADED:
        dry_run(run)
    return services.run_now(run=run, dry_run=False)


@pytest.mark.parametrize("kind", ["incidents", "changes"])
def test_the_importable_fields_are_the_services_writable_fields(kind):
    assert set(fields.ORDER[kind]) == fields.WRITABLE[kind] - fields.NOT_FROM_A_FILE


def test_it_reads_a_jira_export_with_bom_crlf_and_jira_dates(team, lead, services_of_team):
    run = upload(team, lead, "jira_incidents.csv")
    assert (run.encoding, run.delimiter, run.rows) == ("utf-8-bom", ",", 3)
    assert run.header[0] == "Summary"  # the byte-order mark is not part of the first column's name
    assert run.columns == {
        "external_id": "Issue key",
        "title": "Summary",
        "summary": "Description",
        "severity": "Priority",
        "status": "Status",
        "service": "Component/s",
        "started_at": "Created",
        "resolved_at": "Resolved",
    }
    run.timezone = "UTC"
    run = import_(run)
    assert (run.state, run.created, run.updated, run.refused) == ("imported", 3, 0, 0)
    first = Incident.objects.get(team=team, source="jira", external_id="OPS-101")
    assert first.severity == "SEV1" and first.status == "resolved"
    assert first.service == services_of_team["checkout"]
    assert first.started_at == dt.datetime(2024, 3, 12, 9, 41, tzinfo=UTC)
    assert first.resolved_at == dt.datetime(2024, 3, 12, 10, 58, tzinfo=UTC)
    assert first.summary == 'Gateway pool exhausted.\r\n\r\nRolled back the "pool size" change.'
    assert first.created_by == lead
    second = Incident.objects.get(team=team, external_id="OPS-102")
    assert (second.severity, second.status, second.service) == ("SEV3", "open", services_of_team["payments"])
    third = Incident.objects.get(team=team, external_id="OPS-103")
    assert (third.severity, third.status, third.service) == ("SEV4", "closed", None)


def test_it_reads_a_servicenow_list_export_in_the_chosen_time_zone(team, lead, services_of_team):
    run = upload(team, lead, "servicenow_incidents.csv", source="servicenow")
    assert run.columns["external_id"] == "number" and run.columns["title"] == "short_description"
    assert run.columns["started_at"] == "opened_at" and run.columns["service"] == "cmdb_ci"
    assert run.columns["severity"] == "priority" and run.columns["status"] == "state"
    services.configure(
        run=run, columns=run.columns, values={}, timezone_name="Europe/Paris", month_first=False, skip_refused=False
    )
    run = import_(run)
    assert (run.created, run.refused) == (4, 0), run.refused_rows
    payments = Incident.objects.get(team=team, source="servicenow", external_id="INC0010001")
    # 08:15 in Paris on 2 April 2024 (summer time, UTC+2) is 06:15 UTC.
    assert payments.started_at == dt.datetime(2024, 4, 2, 6, 15, tzinfo=UTC)
    assert (payments.severity, payments.status, payments.service.slug) == ("SEV1", "resolved", "payments")
    assert Incident.objects.get(external_id="INC0010003").title == "Ünïcode café outage"
    assert Incident.objects.get(external_id="INC0010004").status == "open"


def test_it_reads_latin1_semicolons_and_gives_rows_without_id_a_stable_one(team, lead, services_of_team):
    run = upload(team, lead, "spreadsheet_latin1_semicolon.csv", source="spreadsheet")
    assert (run.encoding, run.delimiter, run.rows) == ("cp1252", ";", 4)
    assert "external_id" not in run.columns
    services.configure(
        run=run, columns=run.columns, values={}, timezone_name="Europe/Paris", month_first=False, skip_refused=False
    )
    run = import_(run)
    # The exact duplicate row has the same content, so the same id: it updates the first, never a twin.
    assert (run.created, run.updated, run.refused) == (3, 1, 0)
    lyon = Incident.objects.get(team=team, title="Panne de la caisse à Lyon")
    assert lyon.external_id.startswith("sha256:")
    assert lyon.started_at == dt.datetime(2024, 3, 12, 14, 5, tzinfo=PARIS)
    expected = fields.stable_id("incidents", {"title": lyon.title, "started_at": lyon.started_at})
    assert lyon.external_id == expected
    assert Incident.objects.get(title="Sauvegarde échouée").severity == "SEV4"


def test_a_re_import_of_the_same_file_updates_instead_of_duplicating(team, lead, services_of_team):
    import_(upload(team, lead, "jira_incidents.csv"))
    again = import_(upload(team, lead, "jira_incidents.csv"))
    assert (again.created, again.updated) == (0, 3)
    assert Incident.objects.filter(team=team).count() == 3


def test_a_dry_run_counts_what_would_happen_and_writes_nothing(team, lead, services_of_team):
    at = dt.datetime(2024, 3, 12, 9, 41, tzinfo=UTC)
    factories.IncidentFactory(
        team=team, source="jira", external_id="OPS-101", title="Old title", started_at=at, detected_at=at
    )
    run = dry_run(upload(team, lead, "jira_incidents.csv"))
    assert (run.state, run.created, run.updated, run.refused) == ("checked", 2, 1, 0)
    assert Incident.objects.filter(team=team).count() == 1
    assert Incident.objects.get(external_id="OPS-101").title == "Old title"
    assert not LogEntry.objects.filter(object_repr__contains="jira_incidents.csv").exists()


def test_bad_rows_are_reported_by_line_and_field_and_nothing_is_written(team, lead, services_of_team):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    run = dry_run(run)
    assert (run.created, run.refused) == (1, 6)
    by_line = {row["line"]: {e["field"]: e for e in row["errors"]} for row in run.refused_rows}
    assert set(by_line) == {3, 4, 5, 6, 7, 8}
    assert "Whatever" in by_line[3]["severity"]["message"] and by_line[3]["severity"]["column"] == "severity"
    assert "the second of May" in by_line[4]["started_at"]["message"]
    assert "resolved_at" in by_line[5]
    assert "title" in by_line[6]
    assert "mainframe" in by_line[7]["service"]["message"]
    assert "resolved_at" in by_line[8]
    run = services.run_now(run=run, dry_run=False)
    assert run.state == "refused" and run.refused == 6
    assert not Incident.objects.filter(team=team).exists()  # all or nothing: the good row is not written either
    entry = LogEntry.objects.get(object_repr__contains="bad_rows.csv")
    assert entry.actor == lead and "nothing written" in entry.additional_data["reason"]


def test_skip_refused_rows_writes_the_good_ones_and_is_recorded(team, lead, services_of_team):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    services.configure(
        run=run, columns=run.columns, values={}, timezone_name="UTC", month_first=False, skip_refused=True
    )
    run = import_(run)
    assert (run.state, run.created, run.refused) == ("imported", 1, 6)
    assert list(Incident.objects.filter(team=team).values_list("external_id", flat=True)) == ["B-1"]
    entry = LogEntry.objects.get(object_repr__contains="bad_rows.csv")
    assert entry.additional_data["team_id"] == team.pk
    assert "1 created, 0 updated, 6 refused rows skipped" in entry.additional_data["reason"]
    assert run.content == b""  # the file is not kept once imported


def test_value_mapping_overrides_the_defaults_case_insensitively(team, lead, services_of_team):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    services.configure(
        run=run,
        columns=run.columns,
        values={"severity": {"WHATEVER": "SEV1"}, "service": {"Mainframe": "payments"}},
        timezone_name="UTC",
        month_first=False,
        skip_refused=True,
    )
    run = import_(run)
    assert {row["line"] for row in run.refused_rows} == {4, 5, 6, 8}
    assert Incident.objects.get(external_id="B-2").severity == "SEV1"
    assert Incident.objects.get(external_id="B-6").service == services_of_team["payments"]
    mapping = ImportMapping.objects.get(team=team, source="tool", kind="incidents")
    assert mapping.values["severity"] == {"WHATEVER": "SEV1"}


def test_service_names_map_only_to_the_importing_teams_services(team, other_team, lead, services_of_team):
    factories.ServiceFactory(team=other_team, name="Mainframe", slug="mainframe")
    run = dry_run(upload(team, lead, "bad_rows.csv", source="tool"))
    assert 7 in {row["line"] for row in run.refused_rows}
    run = upload(team, lead, "bad_rows.csv", source="tool")
    with pytest.raises(ValidationError) as caught:
        services.configure(
            run=run,
            columns=run.columns,
            values={"service": {"mainframe": "mainframe"}},
            timezone_name="UTC",
            month_first=False,
            skip_refused=False,
        )
    assert "values_service" in caught.value.message_dict


def test_the_mapping_is_remembered_per_source(team, lead, services_of_team):
    run = upload(team, lead, "servicenow_incidents.csv", source="servicenow")
    columns = {**run.columns, "title": "category"}
    services.configure(
        run=run, columns=columns, values={}, timezone_name="Asia/Tokyo", month_first=False, skip_refused=False
    )
    again = upload(team, lead, "servicenow_incidents.csv", source="servicenow")
    assert again.columns["title"] == "category" and again.timezone == "Asia/Tokyo"
    other_source = upload(team, lead, "servicenow_incidents.csv", source="other")
    assert other_source.columns["title"] == "short_description" and other_source.timezone == team.timezone


def test_it_imports_servicenow_changes_with_kinds_and_outcomes(team, lead, services_of_team):
    run = upload(team, lead, "servicenow_changes.csv", kind="changes", source="servicenow")
    assert run.columns == {
        "external_id": "number",
        "title": "short_description",
        "kind": "type",
        "service": "cmdb_ci",
        "committed_at": "start_date",
        "deployed_at": "end_date",
        "failed": "close_code",
    }
    run = import_(run)
    assert (run.created, run.refused) == (3, 0), run.refused_rows
    rows = {c.external_id: (c.kind, c.failed, c.service.slug) for c in Change.objects.filter(team=team)}
    assert rows == {
        "CHG0030001": ("normal", True, "checkout"),
        "CHG0030002": ("standard", False, "payments"),
        "CHG0030003": ("emergency", True, "payments"),
    }


def test_files_over_the_limits_are_refused_before_they_are_read(team, lead, settings):
    settings.OPSKAIZEN_IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError) as caught:
        upload(team, lead, "jira_incidents.csv")
    assert "limit" in caught.value.message_dict["file"][0]
    settings.OPSKAIZEN_IMPORT_MAX_BYTES = 10_000
    settings.OPSKAIZEN_IMPORT_MAX_ROWS = 2
    with pytest.raises(ValidationError) as caught:
        upload(team, lead, "jira_incidents.csv")
    assert "more than 2 rows" in caught.value.message_dict["file"][0]
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b",,\n", "name the columns"), (b'title\n"unclosed\n', None)],
)
def test_unreadable_files_are_a_field_error(content, message):
    if message is None:
        # An unclosed quote swallows the rest of the file: one cell, read, never an exception.
        header, rows, _encoding, _delimiter = csvfile.read(content)
        assert header == ["title"] and rows[0][1] == ["unclosed\n"]
        return
    with pytest.raises(ValidationError) as caught:
        csvfile.read(content)
    assert message in caught.value.message_dict["file"][0]


def test_month_first_dates_and_offsets(team):
    assert fields.parse_time("03/12/2024 14:00", UTC, month_first=True) == dt.datetime(2024, 3, 12, 14, tzinfo=UTC)
    assert fields.parse_time("03/12/2024 14:00", UTC) == dt.datetime(2024, 12, 3, 14, tzinfo=UTC)
    assert fields.parse_time("2024-03-12T14:00:00+01:00", PARIS) == dt.datetime(2024, 3, 12, 13, tzinfo=UTC)
    assert fields.parse_time("12.03.2024 14:00", PARIS) == dt.datetime(2024, 3, 12, 14, tzinfo=PARIS)


def test_imported_incidents_feed_the_metrics(team, lead, services_of_team):
    scope = build_scope(teams=team, start=dt.date(2024, 3, 1), end=dt.date(2024, 4, 30))
    before = period_figures(scope)["reliability"]
    assert before["incidents"] == 0
    import_(upload(team, lead, "jira_incidents.csv"))
    import_(upload(team, lead, "servicenow_changes.csv", kind="changes", source="servicenow"))
    after = period_figures(scope)
    assert after["reliability"]["incidents"] == 3
    assert after["reliability"]["incidents_by_severity"] == {"SEV1": 1, "SEV2": 0, "SEV3": 1, "SEV4": 1}
    assert after["speed"]["deployment_frequency"]["count"] == 3
    assert after["reliability"]["change_failure_rate"]["value"] == pytest.approx(2 / 3)


def test_an_imported_incident_reopens_a_standardised_action_like_any_other(
    team, lead, django_capture_on_commit_callbacks
):
    from tests.improvement.test_recurrence import standardised

    action = standardised(team=team)
    name = action.target_service.name
    content = f"Issue key,Summary,Created,Component/s\r\nOPS-9,Gateway down,10/Mar/26 8:00 AM,{name}\r\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        dry_run(upload(team, lead, "late.csv", content=content))
    action.refresh_from_db()
    assert action.recurred_at is None  # a dry run leaves no trace, not even a recurrence
    with django_capture_on_commit_callbacks(execute=True):
        import_(upload(team, lead, "late.csv", content=content))
    action.refresh_from_db()
    incident = Incident.objects.get(team=team, external_id="OPS-9")
    assert action.recurred_at is not None and list(action.recurrences.all()) == [incident]
    assert Action.objects.get(previous_cycle=action).origin == "recurrence"
