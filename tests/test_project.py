"""Project-level promises: production settings pass check --deploy, the demo seeds, the admin lists it."""

import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count

from improvement.models import Action, StageTransition
from incidents.models import Change, Incident, Postmortem
from rituals.models import ReviewSession, Ritual
from teams.models import Team

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "HTTPS"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, check=False
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        HTTPS="true",
        ALLOWED_HOSTS="ops.example.com",
        OPSKAIZEN_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_https_check_deploy_names_what_is_missing(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", OPSKAIZEN_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_a_missing_secret_key_is_generated_once_and_kept(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"OPSKAIZEN_VAR_DIR": str(tmp_path)}
    first, second = (
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        ).stdout.strip()
        for _ in range(2)
    )
    assert len(first) >= 50
    assert first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_wsgi_entry_point_loads_the_views_then_freezes_what_it_loaded(tmp_path):
    # A web worker imports config.wsgi once: the URLconf (every view) is imported then, not on the
    # first request, and what is alive at that point is out of the garbage collector's scans.
    script = (
        "import gc, sys\n"
        "before = gc.get_freeze_count()\n"
        "import config.wsgi\n"
        "print(before, gc.get_freeze_count(), 'incidents.api' in sys.modules, 'rituals.views' in sys.modules)\n"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "HTTPS"}}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "OPSKAIZEN_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    before, after, views, more_views = result.stdout.split()
    assert before == "0" and int(after) > 50_000  # the settings, apps, models, views
    assert views == more_views == "True"


@pytest.mark.django_db
def test_healthz_reports_the_database_up(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "up"  # more: tests/test_operations.py


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--weeks=12", "--today=2026-06-01", stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_seed_demo_creates_teams_history_and_actions_at_every_stage(demo):
    assert set(Team.objects.values_list("slug", flat=True)) == {"platform-sre", "payments-ops", "data-platform"}
    assert Incident.objects.count() > 50
    assert Change.objects.count() > 300
    assert Postmortem.objects.filter(status="published").exists()
    stages = set(Action.objects.values_list("stage", flat=True))
    assert {"plan", "do", "check", "done"} <= stages
    assert Action.objects.filter(previous_cycle__isnull=False).exists()
    # Every action's stage history is consistent: its last transition ends in its stage.
    for action in Action.objects.prefetch_related("transitions"):
        assert list(action.transitions.all())[-1].to_stage == action.stage
    assert Ritual.objects.filter(kind="weekly_review").count() == 3
    # The monthly operations review is open on the last day, with the month's figures frozen.
    monthly = ReviewSession.objects.get(ritual__kind="monthly_ops_review")
    month = monthly.agenda["monthly"]
    assert monthly.team.slug == "platform-sre" and monthly.status == "open"
    assert [p["pole"] for p in month["poles"]] == ["flexibility", "speed", "reliability"]
    assert all(pole["trends"] for pole in month["poles"])
    assert month["verified"] or month["overridden"] or month["problems"]


def test_the_demo_shows_the_evidence_loop(demo):
    from improvement import checks
    from improvement.models import Check, Recurrence

    def check_of(words):
        return Check.objects.get(action__title__contains=words)

    cancelled, survives = check_of("team-wide drop"), check_of("survives the comparison")
    assert (cancelled.test, cancelled.computed_verdict) == ("comparison", "not_effective")
    assert cancelled.baseline_count > cancelled.observed_count  # it looked effective before/after
    assert (survives.test, survives.computed_verdict) == ("comparison", "effective")
    inconclusive = check_of("inconclusive")
    assert inconclusive.computed_verdict == "inconclusive"
    assert checks.sizing(inconclusive.action)["days"] == 28
    assert Recurrence.objects.filter(dismissed_at__isnull=True, reason__contains="same problem").exists()
    assert Recurrence.objects.filter(dismissed_at__isnull=False).exclude(dismiss_reason="").exists()
    assert Action.objects.filter(stage="withdrawn").count() == 1
    assert Check.objects.filter(overridden=True).exclude(note="").count() == 1
    assert Check.objects.exclude(extensions=[]).exists()
    assert checks.due_check_ids(now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)) == []


def test_seed_demo_is_deterministic(demo):
    def fingerprint():
        return (
            list(Incident.objects.order_by("started_at", "title").values_list("title", "severity", "started_at")),
            list(Action.objects.values("stage").annotate(n=Count("id")).order_by("stage")),
            StageTransition.objects.count(),
        )

    first = fingerprint()
    call_command("seed_demo", "--weeks=12", "--today=2026-06-01", "--reset", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert fingerprint() == first


def test_seed_demo_twice_does_not_duplicate(demo):
    count = Incident.objects.count()
    call_command("seed_demo", "--weeks=12", "--today=2026-06-01", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert Incident.objects.count() == count


def test_admin_lists_the_seeded_data(demo, client):
    client.login(username="admin", password="kaizen-demo")
    incident = Incident.objects.order_by("-started_at").first()
    action = Action.objects.order_by("-created_at").first()
    assert incident.title in client.get("/admin/incidents/incident/").content.decode()
    assert action.title in client.get("/admin/improvement/action/").content.decode()
    history = client.get(f"/admin/improvement/action/{action.pk}/change/").content.decode()
    assert "plan" in history


def test_demo_users_can_log_in_and_see_only_their_teams(demo, client):
    assert client.login(username="alice", password="kaizen-demo")
    # Home goes straight to the user's team; its team switcher lists only the user's teams.
    page = client.get("/", follow=True).content.decode()
    assert "Platform SRE" in page
    assert "Payments Ops" not in page
