"""What a source's values become: source value → service, source severity or priority → SEV1–SEV4.

Each integration carries the lead's mapping (`Integration.service_map`: value → service slug,
`Integration.severity_map`: value → SEV1…SEV4), keys compared ignoring case and surrounding
spaces. A value the lead has not mapped falls back to the defaults:

- service: the team's service whose slug, or else name, is the value, ignoring case (the value
  slugified too: repository `Hello World` is service `hello-world`); a slug match first;
- severity: the source's own table (Alertmanager `critical` → SEV1, PagerDuty `P2` → SEV2, …).

The maps live on the integration row, which the drain reads anyway: mapping costs no query beyond
the service lookup the defaults already made. integrations.webhooks.preview runs a mapping (saved
or being edited) on a stored delivery and only reads.
"""

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.text import slugify
from django.utils.translation import gettext as _

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
MAX_ENTRIES = 200


def key(value) -> str:
    """How a source value is compared: trimmed, ignoring case."""
    return value.strip().lower() if isinstance(value, str) else ""


def default_service(team, name):
    """The team's service whose slug or name is `name`, ignoring case (the slug first), or None."""
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    candidates = team.services.filter(Q(slug__iexact=name) | Q(slug=slugify(name)[:60]) | Q(name__iexact=name))
    matches = sorted(candidates, key=lambda service: (service.slug.lower() != name.lower(), service.pk))
    return matches[0] if matches else None


def mapped_service(team, service_map: dict, value):
    slug = (service_map or {}).get(key(value))
    if slug:
        return team.services.filter(slug=slug).first()
    return None


def service_for(integration, value):
    """The service `value` (a label, repository, PagerDuty service, Jira project, CI…) maps to, or None.

    Remembered on the integration instance for the values it has met: the drain reads the
    integration once per batch, so a batch of new incidents looks each source value up once,
    not once per incident. Both rules compare as `key()` does, which is the memo's key.
    """
    memo = integration.__dict__.setdefault("_service_for", {})
    if key(value) not in memo:
        memo[key(value)] = mapped_service(integration.team, integration.service_map, value) or default_service(
            integration.team, value
        )
    return memo[key(value)]


def severity_for(integration, value, default: str) -> str:
    """The lead's severity for `value`, or the source's `default` for it."""
    return (integration.severity_map or {}).get(key(value)) or default


def clean_maps(team, service_map, severity_map) -> tuple[dict, dict]:
    """Both maps checked and normalised (keys trimmed and lower-cased); a ValidationError names the map and entry."""
    errors: dict[str, list[str]] = {}
    services: dict[str, str] = {}
    severities: dict[str, str] = {}
    for name, raw in (("service_map", service_map), ("severity_map", severity_map)):
        if raw is None:
            continue
        if not isinstance(raw, dict):
            errors[name] = [_("A map of source values to targets.")]
        elif len(raw) > MAX_ENTRIES:
            errors[name] = [_("At most %(count)d entries.") % {"count": MAX_ENTRIES}]
    if errors:
        raise ValidationError(errors)
    slugs = set(team.services.values_list("slug", flat=True)) if service_map else set()
    for value, target in (service_map or {}).items():
        if not key(value) or len(value) > 200:
            errors.setdefault("service_map", []).append(_("An empty or too long source value."))
        elif not isinstance(target, str) or target.strip() not in slugs:
            errors.setdefault("service_map", []).append(
                _("“%(value)s”: no service of this team has the slug “%(target)s”.")
                % {"value": value, "target": target}
            )
        else:
            services[key(value)] = target.strip()
    for value, target in (severity_map or {}).items():
        severity = target.strip().upper() if isinstance(target, str) else ""
        if not key(value) or len(value) > 200:
            errors.setdefault("severity_map", []).append(_("An empty or too long source value."))
        elif severity not in SEVERITIES:
            errors.setdefault("severity_map", []).append(
                _("“%(value)s”: the severity is SEV1, SEV2, SEV3 or SEV4.") % {"value": value}
            )
        else:
            severities[key(value)] = severity
    if errors:
        raise ValidationError(errors)
    return services, severities


def parse_lines(text: str, field: str) -> dict:
    """`source value = target` per line (the form's way of writing a map); blank lines skipped."""
    result, errors = {}, []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, sign, target = line.rpartition("=")
        if not sign or not value.strip() or not target.strip():
            errors.append(_("Line %(number)d: write “source value = target”.") % {"number": number})
            continue
        result[value.strip()] = target.strip()
    if errors:
        raise ValidationError({field: errors})
    return result


def format_lines(mapping: dict) -> str:
    return "\n".join(f"{value} = {target}" for value, target in sorted((mapping or {}).items()))
