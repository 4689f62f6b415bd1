"""Template helpers of the web UI: the single-use form token and small display helpers."""

from django import template
from django.utils.html import format_html

from teams.decorators import ONCE_FIELD, new_once_token, submitted_once_token

register = template.Library()


@register.simple_tag(takes_context=True)
def once_token(context, form=None):
    """A hidden single-use token; `form` shown again with errors keeps the token it was sent with."""
    request = context.get("request")
    token = submitted_once_token(request) if form is not None and form.errors else new_once_token()
    return format_html('<input type="hidden" name="{}" value="{}">', ONCE_FIELD, token)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def get_field(form, name):
    """The bound field `name` of `form` (the move form shows only the fields a move needs)."""
    return form[name]
