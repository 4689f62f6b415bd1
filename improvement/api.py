"""REST endpoints for improvement actions (with stage history), rituals and review sessions.

Stage moves go through improvement.services.move_action only (POST /actions/{id}/transition/).
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action as route

from improvement import services
from improvement.filters import ActionFilter, ReviewSessionFilter, RitualFilter
from improvement.models import Action, Check, ReviewSession, Ritual, Stage, StageTransition, Verdict
from incidents.api import REF_PARAMETERS, REF_PATH, clean_ref
from incidents.models import Change, Incident, Postmortem, Problem
from teams.api.base import IDEMPOTENCY_HEADER, ModelSerializer, ScopedRelatedField, ServiceBackedViewSet, TeamField
from teams.models import Membership, Service
from teams.selectors import teams_for_request


class TeamUserField(serializers.SlugRelatedField):
    """A user by username, among the members of the teams the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", get_user_model().objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return get_user_model().objects.none()
        return get_user_model().objects.filter(memberships__team__in=teams_for_request(request)).distinct()


class StageTransitionSerializer(ModelSerializer):
    by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    from_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)

    class Meta:
        model = StageTransition
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["from_stage", "to_stage", "at", "by", "via", "note"]
        read_only_fields = fields


class CheckSerializer(ModelSerializer):
    computed_verdict = serializers.ChoiceField(choices=Verdict.choices, allow_blank=True, read_only=True)
    verdict = serializers.ChoiceField(choices=Verdict.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Check
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "metric",
            "baseline_value",
            "observed_value",
            "baseline_count",
            "observed_count",
            "p_value",
            "computed_verdict",
            "verdict",
            "overridden",
            "note",
            "measured_at",
        ]
        read_only_fields = fields


LINK_FIELDS = {"incidents": Incident, "postmortems": Postmortem, "problems": Problem, "changes": Change}


class ActionSerializer(ModelSerializer):
    team = TeamField()
    owner = TeamUserField(required=False, allow_null=True)
    target_service = ScopedRelatedField(Service, required=False, allow_null=True)
    target_problem = ScopedRelatedField(Problem, required=False, allow_null=True)
    incidents = ScopedRelatedField(Incident, many=True, required=False)
    postmortems = ScopedRelatedField(Postmortem, many=True, required=False)
    problems = ScopedRelatedField(Problem, many=True, required=False)
    changes = ScopedRelatedField(Change, many=True, required=False)
    transitions = StageTransitionSerializer(many=True, read_only=True)
    decision = serializers.ChoiceField(choices=Action.Decision.choices, allow_blank=True, read_only=True)
    check_result = CheckSerializer(read_only=True, allow_null=True)
    source = serializers.SlugField(max_length=40, required=False)
    check_window_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)

    class Meta:
        model = Action
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "id",
            "team",
            "title",
            "problem_statement",
            "hypothesis",
            "kind",
            "origin",
            "stage",
            "stage_entered_at",
            "owner",
            "due_date",
            "target_kind",
            "target_service",
            "target_problem",
            "target_factor_category",
            "target_metric",
            "target_direction",
            "check_window_days",
            "incidents",
            "postmortems",
            "problems",
            "changes",
            "external_ticket",
            "source",
            "external_id",
            "decision",
            "abandon_reason",
            "cycle",
            "previous_cycle",
            "transitions",
            "check_result",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "stage",
            "stage_entered_at",
            "decision",
            "abandon_reason",
            "cycle",
            "previous_cycle",
            "transitions",
            "check_result",
            "created_at",
            "updated_at",
        ]


class ActionByRefSerializer(ActionSerializer):
    source = serializers.CharField(read_only=True)  # from the URL, never the body
    external_id = serializers.CharField(read_only=True)

    class Meta(ActionSerializer.Meta):
        read_only_fields = [*ActionSerializer.Meta.read_only_fields, "source", "external_id"]


class TransitionSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=Stage.choices)
    from_stage = serializers.ChoiceField(
        choices=Stage.choices, required=False, help_text="The stage you saw; 409 if the action moved meanwhile."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    decision = serializers.ChoiceField(choices=Action.Decision.choices, required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    verdict = serializers.ChoiceField(choices=Verdict.choices, required=False, allow_blank=True)
    baseline_value = serializers.FloatField(required=False, allow_null=True, min_value=-1e15, max_value=1e15)
    observed_value = serializers.FloatField(required=False, allow_null=True, min_value=-1e15, max_value=1e15)


def _split_links(data: dict) -> tuple[dict, dict]:
    links = {name: list(data.pop(name)) for name in list(data) if name in LINK_FIELDS}
    return data, links


@extend_schema_view(
    list=extend_schema(summary="Improvement actions with their stage history"),
    retrieve=extend_schema(summary="An action"),
    create=extend_schema(summary="Open an action (in Plan)", parameters=[IDEMPOTENCY_HEADER]),
    partial_update=extend_schema(summary="Edit an action (not its stage: use transition)"),
)
class ActionViewSet(ServiceBackedViewSet):
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    ordering_fields = ["created_at", "updated_at", "due_date", "stage_entered_at"]
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def base_queryset(self):
        return Action.objects.select_related("team", "owner", "check_result").prefetch_related(
            "incidents", "postmortems", "problems", "changes", "transitions__by"
        )

    def perform_service_create(self, data, team):
        data, links = _split_links(data)
        return services.create_action(team=team, by=self.actor(), links=links, **data)

    def perform_service_update(self, obj, data):
        data, links = _split_links(data)
        return services.update_action(action=obj, links=links, **data)

    @extend_schema(
        summary="Move an action to another PDCA stage",
        description=(
            "Calls the same stage service as the web UI: leaving Plan needs a complete plan, leaving Do evidence, "
            "leaving Check a measured verdict, leaving Act a decision. A refused move is a 400 naming the fields at "
            "fault; `from_stage` that no longer matches is a 409."
        ),
        request=TransitionSerializer,
        responses={200: ActionSerializer},
    )
    @route(detail=True, methods=["post"], serializer_class=TransitionSerializer)
    def transition(self, request, pk=None):
        action = self.get_object()
        self.require_role(action.team)
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if v is not None}
        action = services.move_action(action=action, by=self.actor(), via="api", **data)
        self.serializer_class = ActionSerializer
        return self.respond(action)

    @extend_schema(
        summary="Create or update an action by its ticket id in another tool (never its stage)",
        request=ActionByRefSerializer,
        responses={200: ActionSerializer, 201: ActionSerializer},
        parameters=REF_PARAMETERS,
    )
    @route(detail=False, methods=["put"], url_path=REF_PATH, serializer_class=ActionByRefSerializer)
    def by_ref(self, request, source, external_id):
        external_id = clean_ref(external_id)
        serializer = ActionByRefSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data, links = _split_links(dict(serializer.validated_data))
        team = self.team_from(data)
        action, created = services.upsert_action_by_ref(
            team=team, source=source, external_id=external_id, by=self.actor(), links=links, **data
        )
        self.serializer_class = ActionSerializer
        return self.respond(action, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


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
        fields = [
            "id",
            "team",
            "name",
            "kind",
            "weekday",
            "time_of_day",
            "rrule",
            "timezone",
            "duration_minutes",
            "attendees",
            "notify_email",
            "chat_webhook_url",
            "active",
            "stale_after_days",
            "next_occurrence",
            "created_at",
        ]
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
    filterset_class = RitualFilter
    ordering_fields = ["name", "created_at", "next_occurrence"]
    write_role = Membership.Role.LEAD
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self):
        return Ritual.objects.select_related("team").prefetch_related("attendees")

    def perform_service_create(self, data, team):
        return services.create_ritual(team=team, **data)

    def perform_service_update(self, obj, data):
        return services.update_ritual(ritual=obj, **data)

    def destroy(self, request, *args, **kwargs):
        ritual = self.get_object()
        self.require_role(ritual.team)
        services.delete_ritual(ritual=ritual)
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
    filterset_class = ReviewSessionFilter
    ordering_fields = ["occurrence", "opened_at"]
    http_method_names = ["get", "head", "options"]

    def base_queryset(self):
        return ReviewSession.objects.select_related("team").prefetch_related("attendees")
