"""Teams (read), memberships (leads write) and services endpoints."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets

from teams import services
from teams.api.auth import IsTeamCaller
from teams.api.base import ModelSerializer, ServiceBackedViewSet, TeamField, TeamScopedViewSet
from teams.filters import MembershipFilterSet, ServiceFilterSet, TeamFilterSet
from teams.models import Membership, Service, Team
from teams.selectors import teams_for_request


class TeamSerializer(ModelSerializer):
    class Meta:
        model = Team
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "name", "slug", "timezone", "language", "created_at"]
        read_only_fields = fields


@extend_schema_view(list=extend_schema(summary="Teams the caller may see"), retrieve=extend_schema(summary="A team"))
class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TeamScopedViewSet, viewsets.GenericViewSet):
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    permission_classes = [IsTeamCaller]
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return teams_for_request(self.request).order_by("name", "pk")


class ServiceSerializer(ModelSerializer):
    team = TeamField()
    slug = serializers.SlugField(max_length=60, required=False)
    tier = serializers.ChoiceField(choices=Service.Tier.choices, required=False)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Service
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "id",
            "team",
            "name",
            "slug",
            "description",
            "tier",
            "owner",
            "runbook_url",
            "dashboard_url",
            "repository_url",
            "created_at",
        ]
        read_only_fields = ["id", "owner", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="Services"),
    retrieve=extend_schema(summary="A service"),
    create=extend_schema(summary="Create a service"),
    partial_update=extend_schema(summary="Edit a service"),
)
class ServiceViewSet(ServiceBackedViewSet):
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
    ordering_fields = ["name", "created_at", "tier"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self):
        return Service.objects.select_related("team", "owner").order_by("team__name", "name", "pk")

    def perform_service_create(self, data, team):
        return services.create_service(team=team, **data)

    def perform_service_update(self, obj, data):
        return services.update_service(service=obj, **data)


class MembershipSerializer(ModelSerializer):
    team = TeamField()
    user = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.filter(is_active=True))
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)

    class Meta:
        model = Membership
        validators = []  # uniqueness is the services' rule, not a required-field trap
        fields = ["id", "team", "user", "role", "source", "created_at"]
        read_only_fields = ["id", "source", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="Team members and their roles"),
    retrieve=extend_schema(summary="A membership"),
    create=extend_schema(summary="Add someone to a team, or change their role (team leads)"),
    partial_update=extend_schema(summary="Change a member's role (team leads; the last lead stays)"),
    destroy=extend_schema(summary="Remove someone from a team (team leads; the last lead stays)"),
)
class MembershipViewSet(ServiceBackedViewSet):
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    ordering_fields = ["created_at", "role"]
    write_role = Membership.Role.LEAD
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def acting_user(self):
        return self.request.user if self.request.user.is_authenticated else None

    def base_queryset(self):
        return Membership.objects.select_related("team", "user").order_by("team__name", "user__username", "pk")

    def perform_service_create(self, data, team):
        role = data.get("role", Membership.Role.MEMBER)
        existing = Membership.objects.filter(team=team, user=data["user"]).first()
        if existing is not None:
            return services.change_member_role(membership=existing, role=role, by=self.acting_user())
        return services.add_member(team=team, user=data["user"], role=role, by=self.acting_user())

    def perform_service_update(self, obj, data):
        if "user" in data and data["user"] != obj.user:
            raise serializers.ValidationError({"user": ["A membership cannot change its user."]})
        return services.change_member_role(membership=obj, role=data.get("role", obj.role), by=self.acting_user())

    def destroy(self, request, *args, **kwargs):
        membership = self.get_object()
        self.require_role(membership.team)
        services.remove_member(membership=membership, by=self.acting_user())
        return self.plain(None, status.HTTP_204_NO_CONTENT)
