from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from teams import services
from teams.models import (
    ApiToken,
    Integration,
    Membership,
    OutgoingDelivery,
    OutgoingWebhook,
    Service,
    Team,
    WebhookDelivery,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["team", "role"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "tier"]
    list_filter = ["team", "tier"]
    list_select_related = ["team"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# --- API tokens, integrations and webhook logs ----------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Adding a token generates its key and shows it once, in a message; only its hash is kept."""

    list_display = ["name", "team", "prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team", "scope"]
    list_select_related = ["team", "created_by"]
    search_fields = ["name", "prefix"]
    fields = ["team", "name", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, key = services.create_api_token(team=obj.team, name=obj.name, scope=obj.scope, by=request.user)
        obj.pk, obj.prefix, obj.key_hash = token.pk, token.prefix, token.key_hash
        messages.warning(
            request, _("The key of “%(name)s” (shown only now, copy it): %(key)s") % {"name": token.name, "key": key}
        )

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(token=token)


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
            services.rotate_integration_secret(integration=integration)


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
        from teams.webhooks.processing import reapply

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
