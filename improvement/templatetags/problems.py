"""The incident list's bulk form to group ticked incidents into a problem (one query: the team's open problems)."""

from django import template

from incidents.problem_forms import open_problems

register = template.Library()


@register.inclusion_tag("problems/_bulk_form.html", takes_context=True)
def problem_bulk_form(context):
    team = context["team"]
    return {
        "team": team,
        "can_write": context.get("can_write"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "bulk_problems": open_problems(team) if context.get("can_write") else [],
    }
