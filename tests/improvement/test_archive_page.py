"""The action archive: finished cycles only, the API's filters, search, verdicts, isolation, constant queries."""

import pytest
from django.urls import reverse

from improvement.models import Check
from tests.factories import ActionFactory, MembershipFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def archive(team):
    return reverse("improvement:action_archive", args=[team.slug])


def with_verdict(action, verdict):
    Check.objects.create(team=action.team, action=action, verdict=verdict, evidence=Check.Evidence.COMPUTED)
    return action


def test_the_archive_holds_done_abandoned_and_withdrawn_cycles_with_their_verdicts(client, viewer, team):
    with_verdict(ActionFactory(team=team, title="Canary deploys", stage="done"), "effective")
    ActionFactory(team=team, title="Bigger disks", stage="abandoned", abandon_reason="Too costly")
    ActionFactory(team=team, title="False alarm cycle", stage="withdrawn")
    ActionFactory(team=team, title="Still planning", stage="plan")
    client.force_login(viewer)
    response = client.get(archive(team))
    titles = sorted(a.title for a in response.context["page"].object_list)
    assert titles == ["Bigger disks", "Canary deploys", "False alarm cycle"]
    html = response.content.decode()
    assert "✓ effective" in html and "Too costly" in html


def test_the_archive_filters_by_stage_service_kind_owner_and_search(client, member, team):
    gateway = ServiceFactory(team=team)
    alice = MembershipFactory(team=team, user__username="alice").user
    ActionFactory(team=team, title="Canary deploys", stage="done", target_service=gateway, owner=alice)
    ActionFactory(team=team, title="Bigger disks", stage="abandoned", kind="preventive")
    client.force_login(member)

    def titles(**params):
        return sorted(a.title for a in client.get(archive(team), params).context["page"].object_list)

    assert titles(stage="done") == ["Canary deploys"]
    assert titles(service=gateway.pk) == ["Canary deploys"]
    assert titles(kind="preventive") == ["Bigger disks"]
    assert titles(owner="alice") == ["Canary deploys"]
    assert titles(q="disk") == ["Bigger disks"]


def test_a_filter_on_another_teams_service_is_a_field_error(client, member, team, other_team):
    theirs = ServiceFactory(team=other_team)
    MembershipFactory(team=other_team, user=member)
    client.force_login(member)
    response = client.get(archive(team), {"service": theirs.pk})
    assert response.status_code == 400
    assert "service" in response.context["filterset"].errors


def test_another_teams_archive_is_404_and_the_archive_is_read_only(client, member, team, other_team):
    ActionFactory(team=other_team, title="Theirs", stage="done")
    client.force_login(member)
    assert client.get(archive(other_team)).status_code == 404
    assert "Theirs" not in client.get(archive(team)).content.decode()
    assert client.post(archive(team)).status_code == 405


def test_the_archive_query_count_does_not_grow_with_rows(
    client, member, team, django_assert_num_queries, django_assert_max_num_queries
):
    client.force_login(member)
    client.get(archive(team))
    with_verdict(ActionFactory(team=team, stage="done"), "effective")
    with django_assert_max_num_queries(30) as small:
        client.get(archive(team))
    for n in range(15):
        with_verdict(ActionFactory(team=team, stage="done" if n % 2 else "abandoned"), "inconclusive")
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(archive(team)).status_code == 200


def test_the_archive_in_french(client, member, team):
    ActionFactory(team=team, stage="done")
    client.force_login(member)
    html = client.get(archive(team), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Archive des actions" in html
