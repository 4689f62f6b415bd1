"""The REST API's router: /api/v1/<resource>/ (see /api/docs/)."""

from django.urls import re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from core.api.errors import error_json
from improvement.api import ActionViewSet
from incidents.api import ChangeViewSet, IncidentViewSet, PostmortemViewSet, ProblemViewSet
from integrations.api import IntegrationViewSet
from reporting.api import TargetViewSet
from rituals.api import ReviewSessionViewSet, RitualViewSet
from teams.api.resources import MembershipViewSet, ServiceViewSet, TeamViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("teams", TeamViewSet, basename="team")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("services", ServiceViewSet, basename="service")
router.register("incidents", IncidentViewSet, basename="incident")
router.register("problems", ProblemViewSet, basename="problem")
router.register("postmortems", PostmortemViewSet, basename="postmortem")
router.register("changes", ChangeViewSet, basename="change")
router.register("actions", ActionViewSet, basename="action")
router.register("rituals", RitualViewSet, basename="ritual")
router.register("review-sessions", ReviewSessionViewSet, basename="review-session")
router.register("metric-targets", TargetViewSet, basename="metric-target")
router.register("integrations", IntegrationViewSet, basename="integration")


@csrf_exempt
def not_found(request, *args, **kwargs):
    return error_json(404, "not_found", _("No such API endpoint."))


urlpatterns = [*router.urls, re_path(r"^[\s\S]*$", not_found)]
