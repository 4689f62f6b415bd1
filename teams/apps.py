from django.apps import AppConfig


class TeamsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "teams"

    def ready(self):
        from django.contrib.auth import signals

        from teams import sign_in_audit

        signals.user_logged_in.connect(sign_in_audit.on_user_logged_in, dispatch_uid="teams.audit.sign_in")
        signals.user_login_failed.connect(sign_in_audit.on_user_login_failed, dispatch_uid="teams.audit.sign_in_failed")
