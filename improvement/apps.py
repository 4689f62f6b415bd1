from django.apps import AppConfig


class ImprovementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "improvement"

    def ready(self):
        from core import audit
        from improvement import receivers  # noqa: F401 - reopens standardised actions on a recurrence
        from improvement.models import Action, Check, ProblemMerge

        audit.register(Check)
        audit.register(ProblemMerge)
        audit.register(Action, m2m_fields={"incidents", "postmortems", "problems", "changes"})
