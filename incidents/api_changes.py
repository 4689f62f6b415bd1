"""REST endpoints for changes and deployments (/api/v1/changes/): every write goes through incidents.services."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from incidents import services
from incidents.filters import ChangeFilterSet
from incidents.models import Change
from teams.api.base import (
    IDEMPOTENCY_HEADER,
    ModelSerializer,
    ScopedRelatedField,
    ServiceBackedViewSet,
    TeamField,
    by_ref_route,
)
from teams.models import Service


class ChangeSerializer(ModelSerializer):
    team = TeamField()
    service = ScopedRelatedField(Service, required=False, allow_null=True)
    source = serializers.SlugField(max_length=40, required=False)

    class Meta:
        model = Change
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "team", *services.CHANGE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class ChangeByRefSerializer(ChangeSerializer):
    source = serializers.CharField(read_only=True)  # from the URL, never the body
    external_id = serializers.CharField(read_only=True)

    class Meta(ChangeSerializer.Meta):
        read_only_fields = [*ChangeSerializer.Meta.read_only_fields, "source", "external_id"]


@extend_schema_view(
    list=extend_schema(summary="Changes and deployments"),
    retrieve=extend_schema(summary="A change"),
    create=extend_schema(summary="Record a change", parameters=[IDEMPOTENCY_HEADER]),
    partial_update=extend_schema(summary="Edit a change"),
)
class ChangeViewSet(ServiceBackedViewSet):
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilterSet
    ordering_fields = ["deployed_at", "committed_at", "created_at", "updated_at"]
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def base_queryset(self):
        return Change.objects.select_related("team")

    def perform_service_create(self, data, team):
        return services.create_change(team=team, **data)

    def perform_service_update(self, obj, data):
        return services.update_change(change=obj, **data)

    by_ref = by_ref_route(
        summary="Create or update a change by its id in another tool",
        request=ChangeByRefSerializer,
        response=ChangeSerializer,
    )

    def upsert_by_ref(self, team, source, external_id, data):
        return services.upsert_change_by_ref(team=team, source=source, external_id=external_id, **data)
