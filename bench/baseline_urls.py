"""The ingest benchmark's baseline: a minimal Django view doing the same single insert.

Mounted at /bench-baseline/ by config/urls.py only when OPSKAIZEN_BENCH_BASELINE=1
(bench/ingest_bench.py sets it for its own gunicorn); never in production.
No serializer, no auth, no audit log, no services: json.loads and one INSERT, so that
the ratio measures what the real endpoint costs on top of the database work.
"""

import json

from auditlog.context import disable_auditlog
from django.http import JsonResponse
from django.urls import path
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from incidents.models import Incident


@csrf_exempt
def insert_incident(request, team_id, source, external_id):
    if request.method != "PUT":
        return JsonResponse({"detail": "PUT only"}, status=405)
    body = json.loads(request.body)
    started_at = parse_datetime(body["started_at"])
    with disable_auditlog():  # the baseline is the bare INSERT; the audit row is the real endpoint's cost
        incident = Incident.objects.create(
            team_id=team_id,
            title=body["title"],
            severity=body.get("severity", "SEV3"),
            started_at=started_at,
            detected_at=started_at,
            source=source,
            external_id=external_id,
        )
    return JsonResponse({"id": incident.pk, "external_id": incident.external_id}, status=201)


urlpatterns = [
    path("<int:team_id>/<slug:source>/<str:external_id>/", insert_incident, name="bench-baseline-insert"),
]
