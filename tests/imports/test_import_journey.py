"""A lead brings a Jira export in through the browser: upload → mapping → dry run → import."""

import pytest
from playwright.sync_api import expect

from imports.models import ImportMapping
from incidents.models import Incident
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory
from tests.imports.conftest import FILES
from tests.web.test_e2e_journeys import log_in, page, shot  # noqa: F401 - the page fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("background", [False, True], ids=["in-the-request", "on-a-worker"])
def test_a_lead_imports_a_jira_export(page, settings, celery_eager, background):  # noqa: F811
    settings.OPSKAIZEN_IMPORT_BACKGROUND_ROWS = 1 if background else 2000
    team = TeamFactory(slug="ops", timezone="Europe/Paris")
    ServiceFactory(team=team, name="Checkout", slug="checkout")
    ServiceFactory(team=team, name="Payments", slug="payments")
    lead = MembershipFactory(team=team, role="lead").user
    log_in(page, lead.username)
    page.goto(f"{page.base}/t/ops/settings/imports/")
    page.select_option("#id_kind", "incidents")
    page.fill("#id_source", "jira")
    page.set_input_files("#id_file", str(FILES / "jira_incidents.csv"))
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("jira_incidents.csv")
    expect(page.locator("#column_external_id")).to_have_value("Issue key")
    expect(page.locator("#column_service")).to_have_value("Component/s")
    expect(page.locator("#timezone")).to_have_value("Europe/Paris")
    page.fill("#values_severity", "Highest = SEV2")
    shot(page, "import-mapping")
    page.get_by_role("button", name="Dry run").click()
    result = page.locator("#result")
    expect(result).to_contain_text("Dry run: nothing was written")
    expect(result.locator(".created")).to_have_text("3 created")
    expect(result.locator(".refused")).to_have_text("0 refused")
    assert not Incident.objects.exists()
    shot(page, "import-dry-run")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#result h2")).to_have_text("Imported")
    expect(page.locator("#import-progress")).to_have_text("imported")
    assert Incident.objects.filter(team=team, source="jira").count() == 3
    assert Incident.objects.get(external_id="OPS-101").severity == "SEV2"
    assert ImportMapping.objects.get(team=team, source="jira").values == {"severity": {"Highest": "SEV2"}}
    assert page.refused == []
    # The team's audit log says who imported which file.
    page.goto(f"{page.base}/t/ops/audit/")
    expect(page.locator("main")).to_contain_text("imported incidents from jira_incidents.csv (source jira): 3 created")
