"""Try a mapping on a stored delivery: what it would map to, reading only (nothing is written)."""

from core.api.plumbing import parse_json_bytes
from integrations import mapping
from integrations.webhooks.processing import SOURCES


def preview(integration, delivery, *, service_map=None, severity_map=None) -> list[dict]:
    """What `delivery` maps to under the given maps (the saved ones by default), reading only.

    One row per alert (or record): the source's values and what they become, and by which rule.
    """
    service_map = integration.service_map if service_map is None else service_map
    severity_map = integration.severity_map if severity_map is None else severity_map
    source = SOURCES[integration.source]
    values = getattr(source, "mapping_values", None)
    if values is None:
        return []
    rows = []
    team = integration.team
    payload = parse_json_bytes(delivery.body.encode("utf-8"))
    for service_value, severity_value, default_severity in values(delivery.event, payload):
        mapped = mapping.mapped_service(team, service_map, service_value)
        service = mapped or mapping.default_service(team, service_value)
        severity = severity_map.get(mapping.key(severity_value)) if severity_value is not None else None
        rows.append(
            {
                "service_value": service_value or "",
                "service": service.slug if service else None,
                "service_rule": "mapping" if mapped else ("default" if service else "none"),
                "severity_value": severity_value or "",
                "severity": severity or default_severity,
                "severity_rule": "mapping" if severity else "default",
            }
        )
    return rows
