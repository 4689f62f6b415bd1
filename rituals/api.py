"""API: /api/v1/rituals/ and /api/v1/review-sessions/."""

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status

from rituals import services as ritual_services
from rituals.filters import ReviewSessionFilterSet, RitualFilterSet
from rituals.models import ReviewSession, Ritual
from teams.api.base import IDEMPOTENCY_HEADER, ModelSerializer, ServiceBackedViewSet, TeamField, TeamUserField
from teams.models import Membership


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", "example": "10:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the ritual's time zone (no offset: OpenAPI's `time` format demands one)."""


class RitualSerializer(ModelSerializer):
    team = TeamField()
    time_of_day = LocalTimeField(required=False, allow_null=True)
    attendees = TeamUserField(many=True, required=False)
    duration_minutes = serializers.IntegerField(min_value=5, max_value=24 * 60, required=False)
    stale_after_days = serializers.IntegerField(min_value=1, max_value=365, required=False)

    class Meta:
        model = Ritual
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "team", *ritual_services.RITUAL_FIELDS, "attendees", "next_occurrence", "created_at"]
        read_only_fields = ["id", "next_occurrence", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="Rituals (recurring meetings)"),
    retrieve=extend_schema(summary="A ritual"),
    create=extend_schema(summary="Create a ritual (team leads)", parameters=[IDEMPOTENCY_HEADER]),
    partial_update=extend_schema(summary="Edit a ritual (team leads)"),
    destroy=extend_schema(summary="Delete a ritual and its sessions (team leads)"),
)
class RitualViewSet(ServiceBackedViewSet):
    serializer_class = RitualSerializer
    filterset_class = RitualFilterSet
    ordering_fields = ["name", "created_at", "next_occurrence"]
    write_role = Membership.Role.LEAD
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self):
        return Ritual.objects.select_related("team").prefetch_related("attendees")

    def perform_service_create(self, data, team):
        return ritual_services.create_ritual(team=team, **data)

    def perform_service_update(self, obj, data):
        return ritual_services.update_ritual(ritual=obj, **data)

    def destroy(self, request, *args, **kwargs):
        ritual = self.get_object()
        self.require_role(ritual.team)
        ritual_services.delete_ritual(ritual=ritual)
        return self.plain(None, status.HTTP_204_NO_CONTENT)


class ReviewSessionSerializer(ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    attendees = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    agenda = serializers.JSONField(read_only=True)

    class Meta:
        model = ReviewSession
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "id",
            "team",
            "ritual",
            "occurrence",
            "status",
            "opened_at",
            "closed_at",
            "agenda",
            "notes",
            "summary",
            "attendees",
            "previous",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Review sessions (one per ritual occurrence)"),
    retrieve=extend_schema(summary="A review session with its frozen agenda"),
)
class ReviewSessionViewSet(ServiceBackedViewSet):
    serializer_class = ReviewSessionSerializer
    filterset_class = ReviewSessionFilterSet
    ordering_fields = ["occurrence", "opened_at"]
    http_method_names = ["get", "head", "options"]

    def base_queryset(self):
        return ReviewSession.objects.select_related("team").prefetch_related("attendees")
