"""API of an integration's mapping: /api/v1/integrations/<id>/mapping/ (leads of its team only)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from integrations import mapping
from integrations import services as integration_services
from integrations.models import Integration, WebhookDelivery
from integrations.webhooks import preview as mapping_preview
from teams.api.auth import may
from teams.api.base import TeamScopedViewSet
from teams.models import Membership


class IntegrationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Integration
        fields = ["id", "team", "source", "active", "grouping", "service_map", "severity_map"]
        read_only_fields = fields


class MappingSerializer(serializers.Serializer):
    service_map = serializers.DictField(
        child=serializers.CharField(max_length=60), required=False, help_text="source value → service slug"
    )
    severity_map = serializers.DictField(
        child=serializers.CharField(max_length=4), required=False, help_text="source value → SEV1…SEV4"
    )


class PreviewRequestSerializer(MappingSerializer):
    delivery = serializers.IntegerField(help_text="id of a stored delivery of this integration")


class PreviewRowSerializer(serializers.Serializer):
    service_value = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    service_rule = serializers.ChoiceField(choices=["mapping", "default", "none"])
    severity_value = serializers.CharField()
    severity = serializers.CharField(allow_null=True)
    severity_rule = serializers.ChoiceField(choices=["mapping", "default"])


class PreviewSerializer(serializers.Serializer):
    delivery = serializers.IntegerField()
    written = serializers.BooleanField(help_text="always false: a preview writes nothing")
    rows = PreviewRowSerializer(many=True)


def _checked_maps(team, data: dict) -> tuple[dict | None, dict | None]:
    """The maps of the request, checked (a 400 naming the map and entry), None for a map not sent."""
    try:
        services, severities = mapping.clean_maps(team, data.get("service_map"), data.get("severity_map"))
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
    return (
        services if "service_map" in data else None,
        severities if "severity_map" in data else None,
    )


class IntegrationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TeamScopedViewSet):
    """A team's incoming integrations and their mapping; only a lead of the team sees or changes them."""

    serializer_class = IntegrationSerializer
    http_method_names = ["get", "put", "post", "head", "options"]

    def get_queryset(self):
        leads_of = [team.pk for team in self.visible_teams() if self._is_lead(team)]
        return Integration.objects.filter(team__in=leads_of).select_related("team").order_by("team__name", "source")

    def _is_lead(self, team) -> bool:
        return may(self.request, team, Membership.Role.LEAD)

    def get_object(self):
        # Visible to the team (404 outside it), then a lead's only (403 for the other roles).
        integration = (
            Integration.objects.filter(team__in=self.visible_teams(), pk=self.kwargs["pk"])
            .select_related("team")
            .first()
            if str(self.kwargs["pk"]).isdigit()
            else None
        )
        if integration is None:
            raise NotFound(_("No such integration."))
        self.require_role(integration.team, Membership.Role.LEAD)
        return integration

    @extend_schema(summary="An integration's mapping", responses=MappingSerializer)
    @action(detail=True, methods=["get"], url_path="mapping", serializer_class=MappingSerializer)
    def current_mapping(self, request, pk=None):
        integration = self.get_object()
        return Response({"service_map": integration.service_map, "severity_map": integration.severity_map})

    @extend_schema(summary="Replace an integration's mapping", request=MappingSerializer, responses=MappingSerializer)
    @current_mapping.mapping.put
    def put_mapping(self, request, pk=None):
        integration = self.get_object()
        serializer = MappingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services, severities = _checked_maps(integration.team, serializer.validated_data)
        integration = integration_services.update_integration_mapping(
            integration=integration, service_map=services, severity_map=severities
        )
        return Response({"service_map": integration.service_map, "severity_map": integration.severity_map})

    @extend_schema(
        summary="Try a mapping on a stored delivery (writes nothing)",
        request=PreviewRequestSerializer,
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["post"], url_path="mapping/preview", serializer_class=PreviewRequestSerializer)
    def preview(self, request, pk=None):
        integration = self.get_object()
        serializer = PreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services, severities = _checked_maps(integration.team, serializer.validated_data)
        delivery = (
            WebhookDelivery.objects.filter(integration=integration, pk=serializer.validated_data["delivery"])
            .exclude(body="")
            .first()
        )
        if delivery is None:
            raise serializers.ValidationError({"delivery": [_("No stored delivery of this integration has this id.")]})
        rows = mapping_preview.preview(integration, delivery, service_map=services, severity_map=severities)
        return Response({"delivery": delivery.pk, "written": False, "rows": rows})
