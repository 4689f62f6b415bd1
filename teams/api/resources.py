"""Teams (read) and services endpoints."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from teams import services
from teams.api.auth import IsTeamCaller
from teams.api.base import ServiceBackedViewSet, TeamField, TeamScopedViewSet
from teams.filters import ServiceFilter, TeamFilter
from teams.models import Service, Team
from teams.selectors import teams_for_request


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "name", "slug", "timezone", "created_at"]
        read_only_fields = fields


@extend_schema_view(list=extend_schema(summary="Teams the caller may see"), retrieve=extend_schema(summary="A team"))
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TeamScopedViewSet, viewsets.GenericViewSet):
    serializer_class = TeamSerializer
    filterset_class = TeamFilter
    permission_classes = [IsTeamCaller]
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return teams_for_request(self.request).order_by("name", "pk")


class ServiceSerializer(serializers.ModelSerializer):
    team = TeamField()
    slug = serializers.SlugField(max_length=60, required=False)
    tier = serializers.ChoiceField(choices=Service.Tier.choices, required=False)

    class Meta:
        model = Service
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "team", "name", "slug", "description", "tier", "created_at"]
        read_only_fields = ["id", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="Services"),
    retrieve=extend_schema(summary="A service"),
    create=extend_schema(summary="Create a service"),
    partial_update=extend_schema(summary="Edit a service"),
)
class ServiceViewSet(ServiceBackedViewSet):
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter
    ordering_fields = ["name", "created_at", "tier"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self):
        return Service.objects.select_related("team").order_by("team__name", "name", "pk")

    def perform_service_create(self, data, team):
        return services.create_service(team=team, **data)

    def perform_service_update(self, obj, data):
        return services.update_service(service=obj, **data)
