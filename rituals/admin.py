"""Admin of rituals, review sessions, calendar feeds and the notification log."""

import json

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from rituals.models import CalendarFeed, Notification, ReviewSession, Ritual


class ReviewSessionInline(admin.TabularInline):
    """The ritual's sessions, newest first; they are opened by the tick, not by hand."""

    model = ReviewSession
    fk_name = "ritual"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["occurrence", "status", "opened_at", "closed_at"]
    readonly_fields = fields
    ordering = ["-occurrence"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ritual)
class RitualAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "cadence", "timezone", "active", "next_occurrence"]
    list_filter = ["team", "kind", "active"]
    list_select_related = ["team"]
    search_fields = ["name", "team__name"]
    filter_horizontal = ["attendees"]
    readonly_fields = ["next_occurrence", "created_at"]
    fieldsets = [
        (None, {"fields": ["team", "name", "kind", "active"]}),
        (
            _("Cadence"),
            {
                "fields": ["weekday", "time_of_day", "rrule", "timezone", "duration_minutes", "next_occurrence"],
                "description": _(
                    "A weekday and a time, or an RFC 5545 RRULE such as FREQ=MONTHLY;BYDAY=1MO;BYHOUR=9 "
                    "(the time then comes from BYHOUR/BYMINUTE, else from the time field). Times are on the "
                    "wall clock of the time zone, changes of hour included."
                ),
            },
        ),
        (_("Agenda"), {"fields": ["stale_after_days"]}),
        (_("People and notifications"), {"fields": ["attendees", "notify_email", "chat_webhook_url"]}),
        (None, {"fields": ["created_at"]}),
    ]
    inlines = [ReviewSessionInline]

    @admin.display(description=_("cadence"))
    def cadence(self, ritual):
        if ritual.rrule:
            return ritual.rrule
        if ritual.weekday is None or ritual.time_of_day is None:
            return "—"
        return f"{ritual.get_weekday_display()} {ritual.time_of_day:%H:%M}"


@admin.register(ReviewSession)
class ReviewSessionAdmin(admin.ModelAdmin):
    list_display = ["ritual", "team", "occurrence", "status", "opened_at", "closed_at", "agenda_size"]
    list_filter = ["team", "status"]
    list_select_related = ["ritual", "team"]
    date_hierarchy = "occurrence"
    filter_horizontal = ["attendees"]
    # The agenda is frozen when the tick opens the session: shown, never edited.
    readonly_fields = ["team", "ritual", "occurrence", "previous", "opened_at", "agenda_pretty"]
    exclude = ["agenda"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("items"))
    def agenda_size(self, session):
        return len((session.agenda or {}).get("items", []))

    @admin.display(description=_("agenda (frozen)"))
    def agenda_pretty(self, session):
        return format_html("<pre>{}</pre>", json.dumps(session.agenda, indent=2, ensure_ascii=False))


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["team", "label", "feed_url", "created_by", "created_at", "revoked_at"]
    list_filter = ["team", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["team", "created_by"]
    fields = ["team", "label", "feed_url", "created_by", "created_at", "revoked_at"]
    readonly_fields = ["feed_url", "created_by", "created_at"]
    actions = ["revoke"]

    @admin.display(description=_("address (keep it secret)"))
    def feed_url(self, feed):
        if not feed.pk:
            return _("shown once saved")
        if not feed.is_active:
            return _("revoked")
        return feed.get_absolute_url()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected feed addresses"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, ngettext("%d address revoked.", "%d addresses revoked.", count) % count)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The log of what was sent; read-only but for re-sending failed rows."""

    list_display = ["created_at", "team", "kind", "channel", "to", "period", "status", "attempts", "sent_at"]
    list_filter = ["team", "kind", "channel", "status"]
    list_select_related = ["team"]
    search_fields = ["recipient", "subject"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("recipient"))
    def to(self, notification):
        return notification.recipient_display

    @admin.action(description=_("Send the selected failed notifications again"))
    def send_again(self, request, queryset):
        from rituals import notifications

        ids = list(queryset.filter(status=Notification.Status.FAILED).values_list("pk", flat=True))
        Notification.objects.filter(pk__in=ids).update(status=Notification.Status.PENDING, attempts=0, claimed_at=None)
        queued = notifications.publish(ids)
        if queued < len(ids):
            self.message_user(
                request,
                _("The task queue is unreachable: the next scheduler tick will send them."),
                level=messages.WARNING,
            )
        else:
            self.message_user(request, ngettext("%d notification queued.", "%d notifications queued.", queued) % queued)
