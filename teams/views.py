"""Web pages of a team: its landing page and the membership page of its leads."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from teams import services
from teams.decorators import once, team_view
from teams.forms import MemberForm, add_service_errors
from teams.models import Membership


@require_GET
@team_view()
def team_home(request, team):
    return redirect("improvement:dashboard", team.slug)


@team_view(Membership.Role.LEAD)
@once
def members(request, team):
    """Leads add people to the team or change their role."""
    form = MemberForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = get_user_model().objects.filter(username=form.cleaned_data["username"], is_active=True).first()
            if user is None:
                form.add_error("username", _("No active user has this username."))
            else:
                try:
                    services.add_member(team=team, user=user, role=form.cleaned_data["role"])
                except ValidationError as error:
                    add_service_errors(form, error)
                else:
                    messages.success(
                        request, _("%(user)s is now %(role)s.") % {"user": user, "role": form.cleaned_data["role"]}
                    )
                    return redirect("teams:members", team.slug)
        status = 400
    memberships = team.memberships.select_related("user").order_by("user__username")
    return render(
        request, "teams/members.html", {"team": team, "form": form, "memberships": memberships}, status=status
    )
