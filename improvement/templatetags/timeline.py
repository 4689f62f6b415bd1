"""`{% if event|changeable_by:request %}`: whether the reader may edit or delete a timeline entry."""

from django import template

from incidents.timeline import may_change_event

register = template.Library()


@register.filter
def changeable_by(event, request) -> bool:
    user = getattr(request, "user", None)
    return may_change_event(event, by=user, role=getattr(request, "team_role", None))
