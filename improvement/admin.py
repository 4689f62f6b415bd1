from django.contrib import admin

from improvement.models import Action, Check, StageTransition


class StageTransitionInline(admin.TabularInline):
    """Read-only: stage moves go through improvement.services.move_action."""

    model = StageTransition
    extra = 0
    can_delete = False
    fields = ["at", "from_stage", "to_stage", "by", "via", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class CheckInline(admin.StackedInline):
    model = Check
    extra = 0
    can_delete = False
    readonly_fields = ["computed_verdict", "p_value", "method", "measured_at"]
    exclude = ["team", "decided_by"]


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "stage", "kind", "owner", "due_date", "cycle", "external_ticket"]
    list_filter = ["team", "stage", "kind", "origin"]
    list_select_related = ["team", "owner"]
    search_fields = ["title", "external_ticket", "external_id"]
    # The stage changes only through the stage service, never by editing the field.
    readonly_fields = [
        "stage",
        "stage_entered_at",
        "decision",
        "abandon_reason",
        "previous_cycle",
        "cycle",
        "recurred_at",
    ]
    raw_id_fields = [
        "owner",
        "target_service",
        "target_problem",
        "incidents",
        "postmortems",
        "problems",
        "changes",
        "created_by",
    ]
    inlines = [CheckInline, StageTransitionInline]


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    list_display = ["action", "team", "from_stage", "to_stage", "at", "by", "via"]
    list_filter = ["team", "to_stage", "via"]
    list_select_related = ["action", "team", "by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
