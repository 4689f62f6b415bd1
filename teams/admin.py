from django.contrib import admin, messages
from django.utils.translation import gettext as _

from teams import services
from teams.models import (
    ApiToken,
    ExternalIdentity,
    Membership,
    OrganisationRole,
    Service,
    Team,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "language", "created_at"]
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
    list_display = ["name", "team", "tier", "owner"]
    list_filter = ["team", "tier"]
    list_select_related = ["team", "owner"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# --- API tokens, integrations and webhook logs ----------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Adding a token generates its key and shows it once, in a message; only its hash is kept."""

    list_display = ["name", "team", "prefix", "kind", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["team", "kind", "scope"]
    list_select_related = ["team", "created_by"]
    search_fields = ["name", "prefix"]
    fields = ["team", "name", "kind", "scope", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    # The admin makes personal tokens only; a service token is a lead's decision, on the tokens page.
    readonly_fields = ["kind", "prefix", "created_by", "created_at", "last_used_at"]
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
            services.revoke_api_token(token=token, by=request.user, reason="revoked in the admin")


@admin.register(OrganisationRole)
class OrganisationRoleAdmin(admin.ModelAdmin):
    """Only superusers grant the observer role; each grant and withdrawal is in every team's audit log."""

    list_display = ["user", "role", "granted_by", "granted_at"]
    list_select_related = ["user", "granted_by"]
    autocomplete_fields = ["user"]
    fields = ["user", "role"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )

    def save_model(self, request, obj, form, change):
        services.grant_observer(user=obj.user, by=request.user)

    def delete_model(self, request, obj):
        services.withdraw_observer(user=obj.user, by=request.user)


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "issuer", "subject", "last_sign_in_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "subject"]
    autocomplete_fields = ["user"]
