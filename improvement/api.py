"""REST endpoints for improvement actions (with stage history), rituals and review sessions.

Stage moves go through improvement.services.move_action only (POST /actions/{id}/transition/).
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action as route

from improvement import services
from improvement.filters import ActionFilterSet
from improvement.models import MAX_WINDOW_DAYS, Action, Check, Stage, StageTransition, Verdict
from incidents.models import Change, Incident, Postmortem, Problem
from teams.api.base import (
    IDEMPOTENCY_HEADER,
    ModelSerializer,
    ScopedRelatedField,
    ServiceBackedViewSet,
    TeamField,
    TeamUserField,
    by_ref_route,
)
from teams.models import Service


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
            "overridden_at",
            "test",
            "comparison_baseline_count",
            "comparison_observed_count",
            "effect",
            "ci_low",
            "ci_high",
            "excluded_incidents",
            "note",
            "measured_at",
            "evidence",
            "data_as_of",
            "self_reported_source",
            "previous_computed_verdict",
            "result_changed_at",
            "extensions",
            "verified",
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
    check_window_days = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_DAYS, required=False)

    class Meta:
        model = Action
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "id",
            "team",
            *services.ACTION_FIELDS,
            "stage",
            "stage_entered_at",
            *LINK_FIELDS,
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


class ExtendCheckSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW_DAYS)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def split_links(data: dict) -> tuple[dict, dict]:
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
    filterset_class = ActionFilterSet
    ordering_fields = ["created_at", "updated_at", "due_date", "stage_entered_at"]
    http_method_names = ["get", "post", "patch", "put", "head", "options"]

    def base_queryset(self):
        return Action.objects.select_related("team", "owner", "check_result").prefetch_related(
            "incidents", "postmortems", "problems", "changes", "transitions__by"
        )

    def perform_service_create(self, data, team):
        data, links = split_links(data)
        return services.create_action(team=team, by=self.actor(), links=links, **data)

    def perform_service_update(self, obj, data):
        data, links = split_links(data)
        return services.update_action(action=obj, links=links, **data)

    @extend_schema(
        summary="Move an action to another PDCA stage",
        description=(
            "Calls the same stage service as the web UI: leaving Plan needs a complete plan, leaving Do evidence, "
            "leaving Check the verdict OpsKaizen measured (leaving earlier or against it is a lead's override with "
            "a reason, never counted as verified; baseline and observed values are not accepted here), leaving Act "
            "a decision. A refused move is a 400 naming the fields at fault; a stale `from_stage` is a 409."
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
        summary="Observe an inconclusive Check longer",
        description=(
            "Extends the observation window of an action in Check whose measured verdict is inconclusive; it stays "
            "in Check and is measured again when the new window and its grace period end (365 days in all at most)."
        ),
        request=ExtendCheckSerializer,
        responses={200: ActionSerializer},
    )
    @route(detail=True, methods=["post"], url_path="extend-check", serializer_class=ExtendCheckSerializer)
    def extend_check(self, request, pk=None):
        action = self.get_object()
        self.require_role(action.team)
        serializer = ExtendCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = services.extend_check_window(action=action, by=self.actor(), **serializer.validated_data)
        self.serializer_class = ActionSerializer
        return self.respond(action)

    by_ref = by_ref_route(
        summary="Create or update an action by its ticket id in another tool (never its stage)",
        request=ActionByRefSerializer,
        response=ActionSerializer,
    )

    def upsert_by_ref(self, team, source, external_id, data):
        data, links = split_links(data)
        return services.upsert_action_by_ref(
            team=team, source=source, external_id=external_id, by=self.actor(), links=links, **data
        )
