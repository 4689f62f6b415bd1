"""POST /hooks/<integration public id>/: one URL per team and source (see the README)."""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from teams.api.errors import error_json
from teams.models import Integration
from teams.selectors import only_row
from teams.webhooks import Refused
from teams.webhooks.processing import receive as receive_delivery
from teams.webhooks.processing import refuse


@csrf_exempt
@require_POST
def receive(request, public_id):
    # Only the integration's own columns: the request needs team_id, not the team (the drain loads it).
    integration = only_row(Integration.objects.filter(public_id=public_id, active=True))
    if integration is None:
        return error_json(404, "not_found", _("No active integration at this URL."))
    remote = request.META.get("REMOTE_ADDR", "")
    try:
        body = request.body
    except RequestDataTooBig:
        refusal = Refused(413, "payload_too_large", _("The request body is too large."))
        refuse(integration, refusal, remote)
        return error_json(413, refusal.code, refusal.message)
    outcome = receive_delivery(integration, request.headers, body, remote)
    return JsonResponse(outcome.body, status=outcome.status)
