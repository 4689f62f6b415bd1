"""GitHub: issues → actions, deployment / deployment_status → changes.

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the webhook's secret.
GitHub signs no time, and a redelivery (by hand, up to 3 days later) is the same signed body: replays
are refused by `X-GitHub-Delivery` (the same on a redelivery, required for the events we use), and
an event whose own `updated_at` (issue, deployment or deployment status) is older than
WEBHOOK_MAX_EVENT_AGE_DAYS is refused.
"""

from django.utils.translation import gettext as _

from improvement import services as improvement_services
from incidents import services as incident_services
from integrations import mapping
from integrations.webhooks import (
    Ignored,
    body_signature,
    body_signature_matches,
    check_age,
    dig,
    malformed,
    parse_time,
    require_signature,
    text,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_TIME = {
    "issues": ("issue", "updated_at"),
    "deployment": ("deployment", "updated_at"),
    "deployment_status": ("deployment_status", "updated_at"),
}


sign = body_signature


def verify(headers, body: bytes, secret: str) -> None:
    require_signature(body_signature_matches(headers.get(SIGNATURE_HEADER, ""), secret, body))


def describe(headers, payload) -> tuple[str, str]:
    event = headers.get("X-GitHub-Event", "")
    delivery = headers.get("X-GitHub-Delivery", "")[:200]
    if event in EVENT_TIME:
        if not delivery:
            raise malformed(
                _("The X-GitHub-Delivery header is missing."), {"X-GitHub-Delivery": [_("This field is required.")]}
            )
        where = ".".join(EVENT_TIME[event])
        check_age(parse_time(dig(payload, *EVENT_TIME[event], required=False), where), where)
    return event, delivery


def _repository_name(repository) -> str:
    name = repository.get("name") if isinstance(repository, dict) else None
    return name if isinstance(name, str) else ""


def mapping_values(event, payload) -> list[tuple]:
    """(repository name, no severity) for the mapping preview: deployments become changes."""
    if event not in ("deployment", "deployment_status"):
        return []
    return [(_repository_name(payload.get("repository")), None, None)]


def handle(integration, event, payload):
    team = integration.team
    if event == "issues":
        issue = dig(payload, "issue", kind=dict)
        repo = dig(payload, "repository", "full_name", kind=str)
        number = dig(issue, "number", kind=int)
        external_id = f"{repo}#{number}"
        # The ticket's fields are GitHub's; the PDCA stage is ours and is never touched here.
        fields = {
            "title": text(dig(issue, "title", kind=str), 200) or external_id,
            "external_ticket": text(dig(issue, "html_url", kind=str), 500),
        }
        existing = team.actions.filter(source="github", external_id=external_id).exists()
        if not existing:
            fields["problem_statement"] = text(dig(issue, "body", required=False), 10000)
        action, created = improvement_services.upsert_action_by_ref(
            team=team, source="github", external_id=external_id, **fields
        )
        return {"action": action.pk, "created": created}
    if event in ("deployment", "deployment_status"):
        deployment = dig(payload, "deployment", kind=dict)
        repository = dig(payload, "repository", kind=dict)
        repo = dig(repository, "full_name", kind=str)
        deployment_id = dig(deployment, "id", kind=int)
        ref = text(dig(deployment, "ref", required=False), 100)
        sha = text(dig(deployment, "sha", required=False), 40)
        environment = text(dig(deployment, "environment", required=False), 60)
        fields = {
            "title": _("Deploy %(ref)s (%(sha)s) to %(env)s") % {"ref": ref, "sha": sha[:7], "env": environment},
            "service": mapping.service_for(integration, _repository_name(repository)),
        }
        if event == "deployment_status":
            state = dig(payload, "deployment_status", "state", kind=str)
            change = team.changes.filter(source="github", external_id=f"{repo}/deployments/{deployment_id}").first()
            if state == "success" and (change is None or change.deployed_at is None):
                fields["deployed_at"] = parse_time(
                    dig(payload, "deployment_status", "created_at"), "deployment_status.created_at"
                )
        change, created = incident_services.upsert_change_by_ref(
            team=team, source="github", external_id=f"{repo}/deployments/{deployment_id}", **fields
        )
        return {"change": change.pk, "created": created}
    return Ignored(_("GitHub %(event)s events are not used.") % {"event": event or "?"})  # ping, push, …
