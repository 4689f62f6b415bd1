from django.apps import AppConfig


class ImprovementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "improvement"

    def ready(self):
        # Percentile aggregate on SQLite connections; recurrence receiver on incident_logged.
        from improvement import receivers  # noqa: F401
        from improvement.metrics import db  # noqa: F401
