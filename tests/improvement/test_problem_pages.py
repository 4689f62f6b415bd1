"""Problem pages: the list, a problem's page, grouping incidents from the incident list, merging and undoing."""

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from improvement.models import Action, Check, ProblemMerge, Recurrence
from incidents.models import Incident, Problem
from tests.factories import ActionFactory, IncidentFactory, ProblemFactory, ServiceFactory
from tests.web import once

pytestmark = pytest.mark.django_db


def measured_check(action, verdict):
    return Check.objects.create(
        team=action.team, action=action, verdict=verdict, computed_verdict=verdict, evidence=Check.Evidence.COMPUTED
    )


def url(name, team, *args):
    return reverse(f"problems:{name}", args=[team.slug, *args])


def test_the_list_shows_status_incident_count_last_incident_and_action_verdicts(client, member, team):
    problem = ProblemFactory(team=team, title="Pool exhaustion", status=Problem.Status.KNOWN_ERROR)
    last = timezone.now() - dt.timedelta(days=1)
    IncidentFactory(team=team, problem=problem, started_at=last - dt.timedelta(days=5))
    IncidentFactory(team=team, problem=problem, started_at=last)
    action = ActionFactory(team=team, title="Bigger pool")
    action.problems.add(problem)
    measured_check(action, "effective")
    client.force_login(member)
    response = client.get(url("list", team))
    row = response.context["problems"][0]
    assert (row.title, row.incident_count, row.last_incident_at) == ("Pool exhaustion", 2, last)
    html = response.content.decode()
    assert "known error" in html
    assert "Bigger pool" in html and "effective" in html


def test_the_list_leaves_out_merged_problems_and_other_teams(client, member, team, other_team):
    target = ProblemFactory(team=team, title="Kept")
    ProblemFactory(team=team, title="Merged away", merged_into=target)
    ProblemFactory(team=other_team, title="Theirs")
    client.force_login(member)
    titles = [p.title for p in client.get(url("list", team)).context["problems"]]
    assert titles == ["Kept"]


def _problem_with_rows(team, member, n):
    problem = ProblemFactory(team=team)
    for _ in range(n):
        incident = IncidentFactory(team=team, problem=problem)
        action = ActionFactory(team=team, owner=member)
        action.problems.add(problem)
        measured_check(action, "effective")
        Recurrence.objects.create(action=action, incident=incident, created_at=timezone.now(), reason="same cause")
    return problem


def test_list_and_detail_query_counts_do_not_grow_with_rows(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member)
    client.get(url("list", team))  # the first visit remembers the team in the session
    problem = _problem_with_rows(team, member, 2)
    ProblemMerge.objects.create(
        team=team, source=ProblemFactory(team=team), target=problem, source_status="open", merged_at=timezone.now()
    )
    for name, args in (("list", ()), ("detail", (problem.pk,))):
        with django_assert_max_num_queries(50) as small:
            client.get(url(name, team, *args))
        count = len(small.captured_queries)
        for _ in range(15):
            extra = IncidentFactory(team=team, problem=problem)
            ActionFactory(team=team).problems.add(problem)
            ProblemFactory(team=team).incidents.add(extra) if name == "list" else None
        with django_assert_num_queries(count):
            response = client.get(url(name, team, *args))
        assert response.status_code == 200


def test_the_detail_shows_incidents_in_time_order_workaround_actions_and_recurrences(client, member, team):
    problem = ProblemFactory(team=team, title="Cert expiry", workaround="Renew by hand with certbot.")
    now = timezone.now()
    IncidentFactory(team=team, problem=problem, title="Second outage", started_at=now - dt.timedelta(days=1))
    first = IncidentFactory(team=team, problem=problem, title="First outage", started_at=now - dt.timedelta(days=9))
    aimed = ActionFactory(
        team=team, title="Automate renewal", target_kind=Action.TargetKind.PROBLEM, target_problem=problem
    )
    Recurrence.objects.create(action=aimed, incident=first, created_at=now, reason="same problem")
    client.force_login(member)
    html = client.get(url("detail", team, problem.pk)).content.decode()
    assert html.index("First outage") < html.index("Second outage")
    assert "Renew by hand with certbot." in html
    assert "Automate renewal" in html
    assert "same problem" in html


def test_another_teams_problem_is_404_on_every_page_get_and_post(client, member, team, other_team):
    theirs = ProblemFactory(team=other_team)
    mine = ProblemFactory(team=team)
    client.force_login(member)
    assert client.get(url("detail", team, theirs.pk)).status_code == 404
    assert client.get(url("edit", team, theirs.pk)).status_code == 404
    assert client.post(url("edit", team, theirs.pk), {"title": "x", "status": "open"}).status_code == 404
    assert client.post(url("merge", team, theirs.pk), once({"target": mine.pk})).status_code == 404
    assert client.post(url("detach", team, theirs.pk), {"incidents": []}).status_code == 404
    # The other team's own URL is 404 too: not a member there.
    assert client.get(url("list", other_team)).status_code == 404
    assert Problem.objects.get(pk=theirs.pk).merged_into is None


def test_viewers_read_but_cannot_write(client, viewer, team):
    problem = ProblemFactory(team=team)
    incident = IncidentFactory(team=team)
    client.force_login(viewer)
    assert client.get(url("detail", team, problem.pk)).status_code == 200
    assert "Merge into" not in client.get(url("detail", team, problem.pk)).content.decode()
    assert client.get(url("create", team)).status_code == 403
    data = once({"incidents": [incident.pk], "problem": problem.pk, "operation": "attach"})
    assert client.post(url("from_incidents", team), data).status_code == 403
    assert Incident.objects.get(pk=incident.pk).problem is None


def test_ticked_incidents_are_attached_to_a_new_problem_and_audited(client, member, team):
    disk = ServiceFactory(team=team)
    a, b, c = (IncidentFactory(team=team, service=disk, title=t) for t in ("Disk full A", "Disk full B", "Unrelated"))
    client.force_login(member)
    data = once({"incidents": [a.pk, b.pk], "problem": "", "new_title": "Log rotation broken", "operation": "attach"})
    response = client.post(url("from_incidents", team), data)
    problem = Problem.objects.get(title="Log rotation broken")
    assert response["Location"] == url("detail", team, problem.pk)
    assert sorted(problem.incidents.values_list("title", flat=True)) == ["Disk full A", "Disk full B"]
    assert problem.service == disk  # the service the ticked incidents share
    assert Incident.objects.get(pk=c.pk).problem is None
    entries = LogEntry.objects.filter(
        additional_data__team_id=team.pk, content_type__model="incident", action=LogEntry.Action.UPDATE
    )
    assert entries.filter(object_pk__in=[str(a.pk), str(b.pk)]).count() == 2


def test_ticked_incidents_are_attached_to_an_existing_problem_and_detached_again(client, member, team):
    problem = ProblemFactory(team=team)
    a, b = IncidentFactory(team=team), IncidentFactory(team=team)
    client.force_login(member)
    client.post(
        url("from_incidents", team), once({"incidents": [a.pk, b.pk], "problem": problem.pk, "operation": "attach"})
    )
    assert problem.incidents.count() == 2
    response = client.post(url("from_incidents", team), once({"incidents": [a.pk], "operation": "detach"}))
    assert response["Location"] == reverse("incidents:list", args=[team.slug])
    assert list(problem.incidents.all()) == [b]
    client.post(url("detach", team, problem.pk), {"incidents": [b.pk]})
    assert not problem.incidents.exists()


def test_attaching_another_teams_incident_is_a_field_error_and_writes_nothing(client, member, team, other_team):
    problem = ProblemFactory(team=team)
    mine, theirs = IncidentFactory(team=team), IncidentFactory(team=other_team)
    client.force_login(member)
    data = once({"incidents": [mine.pk, theirs.pk], "problem": problem.pk, "operation": "attach"})
    response = client.post(url("from_incidents", team), data)
    assert response.status_code == 400
    assert "incidents" in response.context["form"].errors
    assert "Nothing was changed." in response.content.decode()
    assert not Incident.objects.filter(problem__isnull=False).exists()


def test_attaching_to_another_teams_problem_is_a_field_error(client, member, team, other_team):
    theirs = ProblemFactory(team=other_team)
    incident = IncidentFactory(team=team)
    client.force_login(member)
    response = client.post(
        url("from_incidents", team), once({"incidents": [incident.pk], "problem": theirs.pk, "operation": "attach"})
    )
    assert response.status_code == 400
    assert "problem" in response.context["form"].errors
    assert Incident.objects.get(pk=incident.pk).problem is None


def test_attaching_without_a_problem_or_a_title_is_refused(client, member, team):
    incident = IncidentFactory(team=team)
    client.force_login(member)
    response = client.post(url("from_incidents", team), once({"incidents": [incident.pk], "operation": "attach"}))
    assert response.status_code == 400
    assert "Choose a problem, or give the new problem a title." in response.content.decode()
    assert not Problem.objects.exists()


def test_a_problem_opened_from_an_incident_takes_its_title_and_links_it(client, member, team):
    service = ServiceFactory(team=team)
    incident = IncidentFactory(team=team, service=service, title="TLS handshake failures")
    client.force_login(member)
    form = client.get(url("create", team), {"incident": incident.pk}).context["form"]
    assert form.initial == {"title": "TLS handshake failures", "service": service.pk}
    data = once({"title": "Expired intermediate cert", "status": "known_error", "workaround": "Restart nginx."})
    response = client.post(url("create", team), data | {"incident": incident.pk, "service": service.pk})
    problem = Problem.objects.get(title="Expired intermediate cert")
    assert response["Location"] == url("detail", team, problem.pk)
    assert (problem.workaround, list(problem.incidents.all())) == ("Restart nginx.", [incident])


def test_opening_a_problem_from_another_teams_incident_is_404(client, member, team, other_team):
    theirs = IncidentFactory(team=other_team)
    client.force_login(member)
    assert client.get(url("create", team), {"incident": theirs.pk}).status_code == 404
    data = once({"title": "x", "status": "open", "incident": theirs.pk})
    assert client.post(url("create", team), data).status_code == 404
    assert not Problem.objects.exists()


def _two_problems(team):
    source, target = ProblemFactory(team=team, title="Source"), ProblemFactory(team=team, title="Target")
    moved = IncidentFactory(team=team, problem=source)
    stays = IncidentFactory(team=team, problem=target)
    linked = ActionFactory(team=team, title="Linked")
    linked.problems.add(source)
    shared = ActionFactory(team=team, title="Shared")
    shared.problems.add(source, target)
    aimed = ActionFactory(team=team, target_kind=Action.TargetKind.PROBLEM, target_problem=source)
    return source, target, moved, stays, linked, shared, aimed


def test_merging_moves_incidents_and_actions_and_a_lead_undoes_it(client, member, lead, team):
    source, target, moved, stays, linked, shared, aimed = _two_problems(team)
    source.status = Problem.Status.KNOWN_ERROR
    source.save()
    client.force_login(member)
    response = client.post(url("merge", team, source.pk), once({"target": target.pk}))
    assert response["Location"] == url("detail", team, target.pk)
    source.refresh_from_db()
    assert (source.merged_into, source.status) == (target, Problem.Status.RESOLVED)
    assert set(target.incidents.all()) == {moved, stays}
    assert list(linked.problems.all()) == [target] and list(shared.problems.all()) == [target]
    assert Action.objects.get(pk=aimed.pk).target_problem == target
    assert LogEntry.objects.filter(content_type__model="problemmerge", additional_data__team_id=team.pk).exists()
    merge = ProblemMerge.objects.get()

    # A member cannot undo; a lead can, from the target's page.
    assert client.post(reverse("problems:merge_undo", args=[team.slug, merge.pk])).status_code == 403
    page = client.get(url("detail", team, target.pk)).content.decode()
    assert "Undo the merge" not in page
    client.force_login(lead)
    assert "Undo the merge" in client.get(url("detail", team, target.pk)).content.decode()
    response = client.post(reverse("problems:merge_undo", args=[team.slug, merge.pk]))
    assert response["Location"] == url("detail", team, source.pk)
    source.refresh_from_db()
    assert (source.merged_into, source.status) == (None, Problem.Status.KNOWN_ERROR)
    assert list(source.incidents.all()) == [moved] and list(target.incidents.all()) == [stays]
    assert list(linked.problems.all()) == [source]
    assert set(shared.problems.all()) == {source, target}
    assert Action.objects.get(pk=aimed.pk).target_problem == source
    assert ProblemMerge.objects.get().undone_by == lead
    # Undone once only.
    client.post(reverse("problems:merge_undo", args=[team.slug, merge.pk]))
    assert list(source.incidents.all()) == [moved]


def test_merging_into_another_teams_problem_is_a_field_error_and_writes_nothing(client, member, team, other_team):
    source = ProblemFactory(team=team)
    incident = IncidentFactory(team=team, problem=source)
    theirs = ProblemFactory(team=other_team)
    client.force_login(member)
    response = client.post(url("merge", team, source.pk), once({"target": theirs.pk}))
    assert response.status_code == 400
    assert "target" in response.context["merge_form"].errors
    assert Incident.objects.get(pk=incident.pk).problem == source
    assert not ProblemMerge.objects.exists()
    assert Problem.objects.get(pk=source.pk).merged_into is None


def test_merging_a_problem_into_itself_is_not_offered(client, member, team):
    source = ProblemFactory(team=team)
    client.force_login(member)
    response = client.post(url("merge", team, source.pk), once({"target": source.pk}))
    assert response.status_code == 400
    assert not ProblemMerge.objects.exists()


def test_another_teams_merge_cannot_be_undone(client, team, other_team, lead):
    from tests.factories import MembershipFactory

    merge = ProblemMerge.objects.create(
        team=other_team,
        source=ProblemFactory(team=other_team),
        target=ProblemFactory(team=other_team),
        source_status="open",
        merged_at=timezone.now(),
    )
    MembershipFactory(team=other_team, role="viewer", user=lead)
    client.force_login(lead)
    assert client.post(reverse("problems:merge_undo", args=[team.slug, merge.pk])).status_code == 404
    assert ProblemMerge.objects.get().undone_at is None


def test_the_incident_list_offers_the_bulk_form_to_members_only(client, member, viewer, team):
    ProblemFactory(team=team, title="Flaky DNS")
    IncidentFactory(team=team)
    client.force_login(member)
    html = client.get(reverse("incidents:list", args=[team.slug])).content.decode()
    assert 'form="problem-bulk"' in html and "Flaky DNS" in html
    client.force_login(viewer)
    html = client.get(reverse("incidents:list", args=[team.slug])).content.decode()
    assert 'form="problem-bulk"' not in html


def test_problem_pages_in_french(client, member, team):
    problem = ProblemFactory(team=team, status=Problem.Status.KNOWN_ERROR)
    client.force_login(member)
    client.cookies["django_language"] = "fr"
    html = client.get(url("detail", team, problem.pk), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Contournement connu" in html
    assert "Historique des récurrences" in html
