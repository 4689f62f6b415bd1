from django.contrib import admin

from incidents.models import Change, ContributingFactor, Incident, Postmortem, Problem, TimelineEvent


class TimelineEventInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    fields = ["occurred_at", "kind", "text", "author"]
    raw_id_fields = ["author"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "service", "severity", "status", "started_at", "source", "external_id"]
    list_filter = ["team", "severity", "status", "source"]
    list_select_related = ["team", "service"]
    search_fields = ["title", "external_id"]
    date_hierarchy = "started_at"
    raw_id_fields = ["service", "problem", "caused_by_change", "created_by"]
    inlines = [TimelineEventInline]


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "service", "status", "created_at"]
    list_filter = ["team", "status"]
    list_select_related = ["team", "service"]
    search_fields = ["title"]


class ContributingFactorInline(admin.TabularInline):
    model = ContributingFactor
    extra = 0
    fields = ["category", "description"]


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    list_display = ["incident", "team", "status", "author", "published_at"]
    list_filter = ["team", "status"]
    list_select_related = ["team", "incident", "author"]
    search_fields = ["incident__title", "summary"]
    raw_id_fields = ["incident", "author"]
    inlines = [ContributingFactorInline]


@admin.register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "service", "kind", "committed_at", "deployed_at", "failed"]
    list_filter = ["team", "kind", "failed", "source"]
    list_select_related = ["team", "service"]
    search_fields = ["title", "external_id"]
    date_hierarchy = "deployed_at"
    raw_id_fields = ["service"]
