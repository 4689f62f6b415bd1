"""Audit log: who changed what (django-auditlog); each app registers the models it audits.

Each entry carries the team in `additional_data`, so a lead sees their team's
log without joining every audited table.
"""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db.models import QuerySet


def _not_audited(model) -> list[str]:
    """`updated_at`, and the reverse relations (the incident's postmortem, an action's next cycle…).

    A reverse relation is not a column of the row, and django-auditlog would read it:
    a reverse one-to-one costs a query on every save (incident → postmortem).
    """
    reverse = [field.name for field in model._meta.get_fields() if field.auto_created and not field.concrete]
    return ["updated_at", *reverse]


def register(model, *, m2m_fields=None) -> None:
    """Audit `model` (each app registers its own in its AppConfig.ready)."""
    if not auditlog.contains(model):
        auditlog.register(model, exclude_fields=_not_audited(model), m2m_fields=m2m_fields or set())


class TeamAudited:
    """Mixin for audited models: tags each log entry with the row's team."""

    def get_additional_data(self) -> dict:
        return {"team_id": self.team_id}


def audit_log_for_team(team) -> QuerySet[LogEntry]:
    """The team's audit entries, newest first, shaped for a list page (no per-row queries)."""
    return (
        LogEntry.objects.filter(additional_data__team_id=team.pk)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-id")
    )
