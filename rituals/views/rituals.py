"""The team's rituals: the list, and a lead's form to create or change one."""

from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.forms import or_404, submit
from core.once import once
from rituals import selectors as ritual_selectors
from rituals import services as ritual_services
from rituals.forms import RitualForm
from rituals.models import ReviewSession
from teams.decorators import team_view
from teams.models import Membership

LEAD = Membership.Role.LEAD

_ritual = or_404(ritual_selectors.ritual_for_page)


@require_GET
@team_view()
def rituals(request, team):
    """The team's rituals, their open sessions and the last closed ones."""
    items = team.rituals.prefetch_related("attendees").order_by("name")
    sessions = ReviewSession.objects.filter(team=team).select_related("ritual").order_by("-occurrence")[:20]
    return render(request, "rituals/rituals.html", {"team": team, "rituals": items, "sessions": sessions})


def _ritual_form_view(request, team, ritual=None):
    form = RitualForm(request.POST or None, team=team, initial=RitualForm.initial_from(ritual) if ritual else None)

    def save(data):
        fields = dict(data)
        attendees = fields.pop("attendees")
        fields["rrule"] = fields["rrule"] or ""
        fields["chat_webhook_url"] = fields["chat_webhook_url"] or ""
        if ritual is None:
            return ritual_services.create_ritual(team=team, attendees=attendees, **fields)
        return ritual_services.update_ritual(ritual=ritual, attendees=attendees, **fields)

    return submit(
        request,
        form,
        save,
        done=reverse("rituals:rituals", args=[team.slug]),
        message=_("Ritual saved."),
        template="rituals/ritual_form.html",
        context={"team": team, "ritual": ritual},
    )


@team_view(LEAD)
@once
def ritual_create(request, team):
    return _ritual_form_view(request, team)


@team_view(LEAD)
def ritual_edit(request, team, pk):
    return _ritual_form_view(request, team, _ritual(team, pk))
