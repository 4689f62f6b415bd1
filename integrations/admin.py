"""Admin of integrations, their delivery log and the outgoing webhooks."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from integrations import services as integration_services
from integrations.models import Integration, OutgoingDelivery, OutgoingWebhook, WebhookDelivery


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["team", "source", "public_id", "active", "created_at"]
    list_filter = ["source", "active"]
    list_select_related = ["team"]
    readonly_fields = ["public_id"]
    actions = ["rotate_secret"]

    @admin.action(description=_("Rotate the signing secret"))
    def rotate_secret(self, request, queryset):
        for integration in queryset:
            integration_services.rotate_integration_secret(integration=integration)
            self._show_token_once(request, integration)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.uses_bearer_token and not obj.secret.startswith("sha256:"):
            # Added (or switched) here with a plain secret: issue the token, whose digest only is kept.
            integration_services.rotate_integration_secret(integration=obj)
            self._show_token_once(request, obj)

    def _show_token_once(self, request, integration):
        token = getattr(integration, "bearer_token", None)
        if token:  # only its digest is stored: shown this once
            self.message_user(
                request,
                _("Bearer token for %(integration)s: %(token)s") % {"integration": integration, "token": token},
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "integration", "event", "vendor_delivery_id", "outcome", "error"]
    list_filter = ["outcome", "integration__source", "team"]
    list_select_related = ["integration__team"]
    search_fields = ["vendor_delivery_id", "event", "error"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Re-process the selected deliveries"))
    def reprocess(self, request, queryset):
        from integrations.webhooks.processing import reapply

        applied = (WebhookDelivery.Outcome.PROCESSED, WebhookDelivery.Outcome.IGNORED, WebhookDelivery.Outcome.FAILED)
        done = 0
        for delivery in queryset.filter(outcome__in=applied).exclude(body=""):
            # Under the integration's lock, like the drain and the lead's Re-apply; queued ones are the drain's.
            try:
                reapply(delivery=delivery, outcomes=applied)
            except ValidationError:  # applied or pruned since the list was shown
                continue
            done += 1
        messages.info(request, _("%(count)d deliveries re-processed.") % {"count": done})


class OutgoingDeliveryInline(admin.TabularInline):
    model = OutgoingDelivery
    extra = 0
    can_delete = False
    fields = ["created_at", "event", "status", "attempts", "last_status_code", "last_error"]
    readonly_fields = fields
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutgoingWebhook)
class OutgoingWebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "team", "active", "created_at"]
    list_filter = ["team", "active"]
    list_select_related = ["team"]
    inlines = [OutgoingDeliveryInline]


@admin.register(OutgoingDelivery)
class OutgoingDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "endpoint", "event", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
    readonly_fields = [f.name for f in OutgoingDelivery._meta.fields]

    def has_add_permission(self, request):
        return False
