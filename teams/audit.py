"""Audit log: who changed what on incidents, postmortems and actions (django-auditlog).

Each entry carries the team in `additional_data`, so a lead sees their team's
log without joining every audited table.
"""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db.models import QuerySet


def register_audited_models() -> None:
    from improvement.models import Action, Check
    from incidents.models import ContributingFactor, Incident, Postmortem, TimelineEvent

    for model in (Incident, TimelineEvent, Postmortem, ContributingFactor, Check):
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=["updated_at"])
    if not auditlog.contains(Action):
        auditlog.register(
            Action, exclude_fields=["updated_at"], m2m_fields={"incidents", "postmortems", "problems", "changes"}
        )


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
