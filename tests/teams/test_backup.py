"""Backup and restore: a team's export loads into an empty instance and comes out identical."""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command

from improvement.models import Action, StageTransition
from incidents.models import Incident
from teams import backup
from teams.models import Team
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo():
    call_command("seed_demo", "--weeks=8", "--today=2026-06-01", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Team.objects.get(slug="platform-sre")


def wipe():
    call_command("flush", "--no-input", verbosity=0)


def test_export_import_round_trip_is_identical(demo):
    exported = backup.export_team(demo)
    counts = (Incident.objects.filter(team=demo).count(), StageTransition.objects.filter(team=demo).count())
    wipe()
    assert not Team.objects.exists()
    team = backup.import_team(exported)
    assert backup.export_team(team) == exported
    assert (Incident.objects.filter(team=team).count(), StageTransition.objects.filter(team=team).count()) == counts
    assert get_user_model().objects.get(username="alice").check_password("kaizen-demo")
    # Sequences were moved past the imported keys: new rows do not collide.
    assert IncidentFactory(team=team).pk > max(
        Incident.objects.exclude(title__startswith="Incident ").values_list("pk", flat=True)
    )


def test_metrics_come_out_identical_after_restore(demo):
    from reporting.metrics import team_dashboard

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    before = team_dashboard(demo, now=now)
    exported = backup.export_team(demo)
    wipe()
    team = backup.import_team(exported)
    after = team_dashboard(team, now=now)
    assert sum(before["series"]["incidents"]["values"]) > 0  # there is something to compare
    assert after == before


def test_export_holds_only_the_teams_rows(demo):
    rows = json.loads(backup.export_team(demo))
    teams = {row["fields"].get("team") for row in rows if "team" in row["fields"]}
    assert teams == {demo.pk}
    usernames = {row["fields"]["username"] for row in rows if row["model"] == "auth.user"}
    assert "chloe" not in usernames  # lead of another team, never referenced by this one
    assert "alice" in usernames


def test_import_refuses_a_team_that_already_exists(demo):
    exported = backup.export_team(demo)
    before = Action.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        backup.import_team(exported)
    assert "team" in excinfo.value.message_dict
    assert Action.objects.count() == before


def test_import_refuses_a_file_that_is_not_an_export():
    with pytest.raises(ValidationError):
        backup.import_team('{"not": "an export"}')
    with pytest.raises(ValidationError):
        backup.import_team("not json")


def test_commands_write_and_load_a_file(demo, tmp_path):
    path = tmp_path / "platform.json"
    call_command("export_team", "platform-sre", "--output", str(path), stderr=open("/dev/null", "w"))  # noqa: SIM115
    wipe()
    call_command("import_team", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Team.objects.get(slug="platform-sre").incidents.exists()
