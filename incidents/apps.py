from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"

    def ready(self):
        from core import audit
        from incidents.measures import db  # noqa: F401 - the percentile function on SQLite connections
        from incidents.models import ContributingFactor, Incident, Postmortem, Problem, TimelineEvent

        for model in (Incident, TimelineEvent, Postmortem, ContributingFactor, Problem):
            audit.register(model)
