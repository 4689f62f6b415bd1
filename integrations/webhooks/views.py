"""POST /hooks/<integration public id>/: one URL per team and source (set-up per source: docs/integrations.md)."""

import functools

from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.api.errors import error_json
from integrations.models import Integration
from integrations.webhooks import Refused
from integrations.webhooks.processing import receive as receive_delivery
from integrations.webhooks.processing import refuse

# What a delivery needs of its integration; the team itself is loaded by the drain, not here.
HOOK_FIELDS = ("id", "team", "source", "secret")


def active_integration(public_id) -> Integration | None:
    """The active integration at this hook URL, or None, in one plain statement.

    Every delivery starts with this read. The ORM compiled the same query afresh each time,
    a fifth of a delivery's CPU in bench/ingest_bench.py, so its SQL is composed once from the
    model's metadata; values go through the fields' own conversions (a UUID on SQLite, say).
    """
    public_id_field = Integration._meta.get_field("public_id")
    with connection.cursor() as cursor:
        cursor.execute(_hook_sql(connection.vendor), [public_id_field.get_db_prep_value(public_id, connection), True])
        row = cursor.fetchone()
    if row is None:
        return None
    attnames = [Integration._meta.get_field(name).attname for name in HOOK_FIELDS]
    integration = Integration.from_db(connection.alias, attnames, row)
    integration.public_id, integration.active = public_id, True
    return integration


@functools.cache
def _hook_sql(vendor: str) -> str:
    meta, quote = Integration._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in HOOK_FIELDS)
    where = f"{quote(meta.get_field('public_id').column)} = %s AND {quote(meta.get_field('active').column)} = %s"
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where}"  # noqa: S608 - identifiers from the model


@csrf_exempt
@require_POST
def receive(request, public_id):
    integration = active_integration(public_id)
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
