"""Writes on postmortems: start, edit the blameless sections, and move draft → in_review → published.

Publishing is the review: by a lead or the named reviewer, never the author (save in a team of one).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.models import Incident, Postmortem
from teams.models import Membership, Team

# What update_postmortem writes besides the author and reviewer: the serializer and the form take theirs from here.
POSTMORTEM_TEXT_FIELDS = (
    "summary",
    "impact",
    "what_went_well",
    "what_went_badly",
    "where_we_got_lucky",
)


def _apply(postmortem: Postmortem, fields: dict, allowed) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(postmortem, name, value)


@transaction.atomic
def start_postmortem(*, incident: Incident, by=None) -> Postmortem:
    """The incident's postmortem, created as a draft the first time."""
    postmortem, _created = Postmortem.objects.get_or_create(
        incident=incident, defaults={"team": incident.team, "author": by}
    )
    return postmortem


@transaction.atomic
def update_postmortem(*, postmortem: Postmortem, **fields) -> Postmortem:
    """Edit the blameless sections; a published postmortem is frozen."""
    postmortem = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
    if postmortem.status == Postmortem.Status.PUBLISHED:
        raise ValidationError({"status": _("A published postmortem can no longer be edited.")})
    _apply(postmortem, fields, (*POSTMORTEM_TEXT_FIELDS, "author", "reviewer"))
    if "reviewer" in fields:
        _check_reviewer(postmortem, postmortem.reviewer)
    postmortem.full_clean()
    postmortem.save()
    return postmortem


POSTMORTEM_MOVES = {
    Postmortem.Status.DRAFT: {Postmortem.Status.IN_REVIEW},
    Postmortem.Status.IN_REVIEW: {Postmortem.Status.DRAFT, Postmortem.Status.PUBLISHED},
    Postmortem.Status.PUBLISHED: set(),
}


def writers(team: Team):
    """The team's memberships that may write (members and leads)."""

    return Membership.objects.filter(team=team, role__in=(Membership.Role.MEMBER, Membership.Role.LEAD))


def _check_reviewer(postmortem: Postmortem, reviewer) -> None:
    """The named reviewer is a member or lead of the team, and not the author."""
    if reviewer is None:
        return
    if reviewer.pk == postmortem.author_id:
        raise ValidationError({"reviewer": _("The author cannot review their own postmortem.")})
    if not writers(postmortem.team).filter(user=reviewer).exists():
        raise ValidationError({"reviewer": _("The reviewer must be a member or lead of this team.")})


def _review_of(postmortem: Postmortem, by) -> dict:
    """Who reviews this publication: someone other than the author, a lead or the named reviewer.

    A team with one writer has nobody else: the author publishes and the self-review is recorded.
    """
    if by is None:
        raise ValidationError({"reviewer": _("Publishing needs a reviewer: sign in as a person.")})
    roles = dict(writers(postmortem.team).values_list("user_id", "role"))
    if by.pk == postmortem.author_id:
        if set(roles) == {by.pk}:
            return {"reviewed_by": by, "self_reviewed": True}
        raise ValidationError(
            {"reviewer": _("Someone other than the author reviews and publishes: a lead, or the named reviewer.")}
        )
    if roles.get(by.pk) == Membership.Role.LEAD or (by.pk == postmortem.reviewer_id and by.pk in roles):
        return {"reviewed_by": by, "self_reviewed": False}
    raise ValidationError({"reviewer": _("Only a lead or the named reviewer can publish this postmortem.")})


@transaction.atomic
def move_postmortem(*, postmortem: Postmortem, to_status: str, at=None, by=None) -> Postmortem:
    """draft → in_review → published; review needs a summary, an impact and a contributing factor.

    Publishing is the review: by a lead or the named reviewer, never the author (save in a team of one).
    """
    postmortem = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
    if to_status not in POSTMORTEM_MOVES.get(postmortem.status, set()):
        raise ValidationError(
            {
                "status": _("A postmortem cannot go from %(old)s to %(new)s.")
                % {"old": postmortem.status, "new": to_status}
            }
        )
    if to_status in (Postmortem.Status.IN_REVIEW, Postmortem.Status.PUBLISHED):
        errors = {}
        if not postmortem.summary.strip():
            errors["summary"] = _("Write the summary first.")
        if not postmortem.impact.strip():
            errors["impact"] = _("Describe the impact first.")
        if not postmortem.factors.exists():
            errors["factors"] = _("Name at least one contributing factor.")
        if errors:
            raise ValidationError(errors)
    postmortem.status = to_status
    fields = ["status", "published_at", "updated_at"]
    if to_status == Postmortem.Status.PUBLISHED:
        for name, value in _review_of(postmortem, by).items():
            setattr(postmortem, name, value)
        fields += ["reviewed_by", "self_reviewed"]
        postmortem.published_at = at or timezone.now()
    postmortem.save(update_fields=fields)
    return postmortem
