"""The lead's import pages: upload → mapping → dry run → import, lead only, one team's runs only."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from imports import services
from imports.models import ImportMapping, ImportRun
from incidents.models import Incident
from tests import factories
from tests.imports.conftest import read, upload

pytestmark = pytest.mark.django_db


def dry_run_of(run):
    return services.run_now(run=run, dry_run=True)


def url(name, team, *args):
    return reverse(f"imports:{name}", args=[team.slug, *args])


def mapping_post(run, **extra):
    data = {f"column_{field}": column for field, column in run.columns.items()}
    data.update({"timezone": "UTC", **extra})
    return data


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def test_upload_dry_run_then_import(lead_client, team, services_of_team):
    page = lead_client.post(
        url("imports", team),
        {"kind": "incidents", "source": "jira", "file": SimpleUploadedFile("jira.csv", read("jira_incidents.csv"))},
    )
    run = ImportRun.objects.get(team=team)
    assert page.status_code == 302 and page["Location"] == url("run", team, run.pk)
    page = lead_client.get(url("run", team, run.pk))
    html = page.content.decode()
    assert '<option value="Issue key" selected>' in html and '<option value="Component/s" selected>' in html
    assert "import-button" not in html  # no import before a dry run
    page = lead_client.post(url("run", team, run.pk), mapping_post(run, values_severity="Highest = SEV2"), follow=True)
    html = page.content.decode()
    assert "Dry run: nothing was written" in html and "3 created" in html and "0 refused" in html
    assert not Incident.objects.exists()
    page = lead_client.post(url("run_import", team, run.pk), follow=True)
    assert "Imported" in page.content.decode()
    assert Incident.objects.get(external_id="OPS-101").severity == "SEV2"  # the lead's word came first
    assert ImportMapping.objects.get(team=team, source="jira").values == {"severity": {"Highest": "SEV2"}}
    # Imported: the page offers neither the mapping nor a second import.
    html = lead_client.get(url("run", team, run.pk)).content.decode()
    assert "mapping-form" not in html and "import-button" not in html
    assert lead_client.post(url("run_import", team, run.pk)).status_code == 302
    assert Incident.objects.count() == 3


def test_refused_rows_are_listed_with_line_field_and_why(lead_client, team, lead, services_of_team):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    html = lead_client.post(url("run", team, run.pk), mapping_post(run), follow=True).content.decode()
    assert "1 created" in html and "6 refused" in html
    assert "<td>3</td><td>severity</td><td>severity</td><td>“Whatever” is not a known severity" in html
    html = lead_client.post(url("run_import", team, run.pk), follow=True).content.decode()
    assert "Refused: nothing was written" in html
    assert not Incident.objects.exists()


def test_a_bad_mapping_is_a_form_error(lead_client, team, lead, services_of_team):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    data = mapping_post(run, column_title="", values_severity="no equals sign", timezone="Mars/Olympus")
    page = lead_client.post(url("run", team, run.pk), data)
    assert page.status_code == 400
    html = page.content.decode()
    assert "Line 1: write “word = value”." in html
    data = mapping_post(run, column_title="", timezone="Mars/Olympus")
    html = lead_client.post(url("run", team, run.pk), data).content.decode()
    assert "Choose the column that holds this field." in html and "Mars/Olympus is not a known IANA time zone." in html
    assert ImportRun.objects.get(pk=run.pk).state == "uploaded"


def test_a_file_over_the_limit_is_a_form_error(lead_client, team, settings):
    settings.OPSKAIZEN_IMPORT_MAX_BYTES = 10
    page = lead_client.post(
        url("imports", team), {"kind": "incidents", "source": "x", "file": SimpleUploadedFile("a.csv", b"x" * 20)}
    )
    assert page.status_code == 400 and "the limit is" in page.content.decode()
    assert not ImportRun.objects.exists()


def test_a_large_file_runs_as_a_task_and_the_page_shows_progress(
    lead_client, team, lead, services_of_team, settings, celery_eager
):
    settings.OPSKAIZEN_IMPORT_BACKGROUND_ROWS = 1
    run = upload(team, lead, "jira_incidents.csv")
    html = lead_client.post(url("run", team, run.pk), mapping_post(run), follow=True).content.decode()
    assert "3 created" in html  # run by the (eager) task
    progress = lead_client.get(url("progress", team, run.pk))
    assert progress["HX-Refresh"] == "true" and "dry run done" in progress.content.decode()
    ImportRun.objects.filter(pk=run.pk).update(state="importing")
    progress = lead_client.get(url("progress", team, run.pk))
    assert 'hx-trigger="every 1s"' in progress.content.decode() and "HX-Refresh" not in progress


def test_another_teams_import_and_mapping_are_404(lead_client, team, other_team):
    other_lead = factories.MembershipFactory(team=other_team, role="lead").user
    run = upload(other_team, other_lead, "bad_rows.csv", source="tool")
    mapping = ImportMapping.objects.create(team=other_team, kind="incidents", source="tool")
    assert lead_client.get(url("run", team, run.pk)).status_code == 404
    assert lead_client.post(url("run", team, run.pk), mapping_post(run)).status_code == 404
    assert lead_client.post(url("run_import", team, run.pk)).status_code == 404
    assert lead_client.get(url("progress", team, run.pk)).status_code == 404
    assert lead_client.post(url("delete_mapping", team, mapping.pk)).status_code == 404
    assert lead_client.get(url("imports", other_team)).status_code == 404
    assert ImportMapping.objects.filter(pk=mapping.pk).exists()
    assert ImportRun.objects.get(pk=run.pk).state == "uploaded"


def test_only_a_lead_imports(client, team, member, lead):
    run = upload(team, lead, "bad_rows.csv", source="tool")
    client.force_login(member)
    assert client.get(url("imports", team)).status_code == 403
    assert client.post(url("run", team, run.pk), mapping_post(run)).status_code == 403
    assert client.post(url("run_import", team, run.pk)).status_code == 403


def test_a_lead_forgets_a_mapping(lead_client, team):
    mapping = ImportMapping.objects.create(team=team, kind="incidents", source="tool")
    assert lead_client.post(url("delete_mapping", team, mapping.pk)).status_code == 302
    assert not ImportMapping.objects.exists()


@pytest.mark.parametrize("page", ["imports", "run"])
def test_the_pages_cost_the_same_queries_whatever_their_size(
    lead_client, team, lead, services_of_team, django_assert_num_queries, page
):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert lead_client.get(target).status_code == 200
        return len(queries)

    run = dry_run_of(upload(team, lead, "bad_rows.csv", source="tool"))
    target = url("imports", team) if page == "imports" else url("run", team, run.pk)
    ImportMapping.objects.create(team=team, kind="incidents", source="a")
    count()  # the first visit also stores the team in the session
    small = count()
    for n in range(5):
        ImportMapping.objects.create(team=team, kind="changes", source=f"s{n}")
        factories.ServiceFactory(team=team)
        upload(team, factories.UserFactory(), "servicenow_incidents.csv", source=f"s{n}")
    with django_assert_num_queries(small):
        count()
