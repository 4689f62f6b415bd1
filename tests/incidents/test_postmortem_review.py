"""Publishing a postmortem is its review: by someone other than the author, on the page and in the API alike."""

import pytest
from django.urls import reverse

from incidents.models import Postmortem
from tests.factories import ContributingFactorFactory, IncidentFactory, MembershipFactory, PostmortemFactory

pytestmark = pytest.mark.django_db


def in_review(team, author):
    postmortem = PostmortemFactory(incident=IncidentFactory(team=team), author=author, status="in_review")
    ContributingFactorFactory(postmortem=postmortem)
    return postmortem


def move(client, team, postmortem, to_status="published"):
    return client.post(reverse("incidents:postmortem_move", args=[team.slug, postmortem.pk]), {"to_status": to_status})


def test_the_author_cannot_publish_their_own_postmortem_in_a_team_with_others(client, member, lead, team):
    postmortem = in_review(team, member)
    client.force_login(member)
    response = move(client, team, postmortem)
    assert response.status_code == 400
    assert "Someone other than the author reviews and publishes" in response.content.decode()
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review" and postmortem.published_at is None and postmortem.reviewed_by is None


def test_a_lead_publishes_and_is_recorded_as_reviewer(client, member, lead, team):
    postmortem = in_review(team, member)
    client.force_login(lead)
    assert move(client, team, postmortem).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == "published" and postmortem.reviewed_by == lead and not postmortem.self_reviewed
    page = client.get(reverse("incidents:postmortem", args=[team.slug, postmortem.pk])).content.decode()
    assert f"Reviewed and published by {lead.username}." in page


def test_a_named_member_publishes_but_another_member_cannot(client, member, lead, team):
    author = member
    reviewer = MembershipFactory(team=team, role="member").user
    bystander = MembershipFactory(team=team, role="member").user
    postmortem = in_review(team, author)
    client.force_login(author)
    data = {"summary": "What happened.", "impact": "Who was affected.", "reviewer": reviewer.pk}
    assert client.post(reverse("incidents:postmortem", args=[team.slug, postmortem.pk]), data).status_code == 302
    client.force_login(bystander)
    refused = move(client, team, postmortem)
    assert refused.status_code == 400 and "Only a lead or the named reviewer" in refused.content.decode()
    client.force_login(reviewer)
    assert move(client, team, postmortem).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.reviewed_by == reviewer and postmortem.status == "published"


def test_the_author_cannot_be_named_reviewer(client, member, lead, team):
    postmortem = in_review(team, member)
    client.force_login(member)
    data = {"summary": "x", "impact": "y", "reviewer": member.pk}
    response = client.post(reverse("incidents:postmortem", args=[team.slug, postmortem.pk]), data)
    assert response.status_code == 400 and "cannot review their own postmortem" in response.content.decode()
    assert Postmortem.objects.get(pk=postmortem.pk).reviewer is None


def test_a_team_of_one_publishes_with_a_recorded_self_review(client, team):
    alone = MembershipFactory(team=team, role="lead").user
    postmortem = in_review(team, alone)
    client.force_login(alone)
    assert move(client, team, postmortem).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == "published" and postmortem.self_reviewed and postmortem.reviewed_by == alone
    page = client.get(reverse("incidents:postmortem", args=[team.slug, postmortem.pk])).content.decode()
    assert "Self-reviewed by" in page


def test_the_api_applies_the_same_review_rule(client, member, lead, team, other_team):
    postmortem = in_review(team, member)
    url = f"/api/v1/postmortems/{postmortem.pk}/transition/"
    client.force_login(member)
    refused = client.post(url, {"to_status": "published"}, content_type="application/json")
    assert refused.status_code == 400 and "reviewer" in refused.json()["errors"]
    assert Postmortem.objects.get(pk=postmortem.pk).status == "in_review"
    named = client.patch(
        f"/api/v1/postmortems/{postmortem.pk}/", {"reviewer": member.username}, content_type="application/json"
    )
    assert named.status_code == 400 and "reviewer" in named.json()["errors"]
    client.force_login(lead)
    done = client.post(url, {"to_status": "published"}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["reviewed_by"] == lead.username and done.json()["self_reviewed"] is False
    foreign = in_review(other_team, None)
    assert client.post(f"/api/v1/postmortems/{foreign.pk}/transition/", {"to_status": "published"}).status_code == 404
    assert reverse("incidents:postmortem_move", args=[team.slug, foreign.pk])
    assert move(client, team, foreign).status_code == 404
