"""REST endpoints for incidents (with timelines), problems and postmortems (with factors); changes in api_changes.

Every write goes through incidents.services; the serializers only shape and type-check.
"""

import functools

from django.contrib.auth import get_user_model
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action

from incidents import factors, services, timeline
from incidents.filters import IncidentFilterSet, PostmortemFilterSet, ProblemFilterSet
from incidents.models import Change, ContributingFactor, Incident, Postmortem, Problem, TimelineEvent
from teams.api.auth import may
from teams.api.base import (
    IDEMPOTENCY_HEADER,
    ModelSerializer,
    ScopedRelatedField,
    ServiceBackedViewSet,
    TeamField,
    TeamUserField,
    by_ref_route,
)
from teams.models import Membership, Service


class TimelineEventSerializer(ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    kind = serializers.ChoiceField(choices=TimelineEvent.Kind.choices, required=False)
    occurred_at = serializers.DateTimeField(required=False)

    class Meta:
        model = TimelineEvent
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "occurred_at", "kind", "text", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]

    def to_representation(self, instance):
        # A system entry (a status change) is stored as data: `text` reads it in the request's language.
        data = super().to_representation(instance)
        data["text"] = instance.display_text
        return data


class IncidentSerializer(ModelSerializer):
    team = TeamField()
    service = ScopedRelatedField(Service, required=False, allow_null=True)
    problem = ScopedRelatedField(Problem, required=False, allow_null=True)
    caused_by_change = ScopedRelatedField(Change, required=False, allow_null=True)
    commander = TeamUserField(required=False, allow_null=True, help_text="Username; a member or lead of the team.")
    scribe = TeamUserField(required=False, allow_null=True, help_text="Username; a member or lead of the team.")
    timeline = TimelineEventSerializer(many=True, read_only=True)
    source = serializers.SlugField(max_length=40, required=False)

    class Meta:
        model = Incident
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "team", *services.INCIDENT_FIELDS, "timeline", "created_at", "updated_at"]
        read_only_fields = ["id", "timeline", "created_at", "updated_at"]
        extra_kwargs = {"detected_at": {"required": False}}


class IncidentByRefSerializer(IncidentSerializer):
    """The body of PUT by-ref: every field optional (an update changes only what is sent)."""

    source = serializers.CharField(read_only=True)  # from the URL, never the body
    external_id = serializers.CharField(read_only=True)
    timeline = None  # not a field of the body (Meta.fields)

    class Meta(IncidentSerializer.Meta):
        # The timeline is read-only: the answer (IncidentSerializer) has it; a body never has one,
        # and building the nested serializer was the dearest field of every by-ref write.
        fields = [name for name in IncidentSerializer.Meta.fields if name != "timeline"]
        read_only_fields = [*IncidentSerializer.Meta.read_only_fields, "source", "external_id"]


class IncidentMoveSerializer(serializers.Serializer):
    move = serializers.ChoiceField(choices=[(m, m) for m in services.Move.CHOICES])
    at = serializers.DateTimeField(required=False, allow_null=True, help_text="When it happened; now if omitted.")


@functools.cache
def _no_rows(model):
    """An evaluated, empty queryset, as prefetch_related stores one for a row without related rows.

    `.none()` alone is compiled again when iterated (select list, ordering, then the empty
    WHERE): a sixth of an API upsert's time, measured by bench/ingest_bench.py. Built once per
    model and shared: an evaluated queryset is only read (iterating it reads its empty result;
    filtering it makes a new one), and building it was still 2 % of an upsert.
    """
    rows = model.objects.none()
    rows._result_cache, rows._prefetch_done = [], True
    return rows


def _incident_write(incident_or_none, data, team, by):
    """Status changes stamp the timestamp they imply, as in the UI (set_incident_status)."""
    new_status = data.get("status")
    if incident_or_none is None:
        return services.create_incident(team=team, by=by, **data)
    stamp = Incident.STATUS_REQUIRES.get(new_status)
    if new_status and stamp and data.get(stamp, getattr(incident_or_none, stamp)) is None:
        data.pop("status")
        with transaction.atomic():
            incident = services.update_incident(incident=incident_or_none, by=by, **data) if data else incident_or_none
            return services.set_incident_status(incident=incident, status=new_status, by=by)
    return services.update_incident(incident=incident_or_none, by=by, **data)


@extend_schema_view(
    list=extend_schema(summary="Incidents", description="Filter by team, service, severity, status, dates, source."),
    retrieve=extend_schema(summary="An incident with its timeline"),
    create=extend_schema(summary="Log an incident", parameters=[IDEMPOTENCY_HEADER]),
    partial_update=extend_schema(summary="Edit an incident (a status change stamps its timestamp)"),
)
class IncidentViewSet(ServiceBackedViewSet):
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    ordering_fields = ["started_at", "detected_at", "severity", "created_at", "updated_at"]
    # DELETE only on a timeline entry: an incident itself is never deleted through the API.
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def base_queryset(self):
        return Incident.objects.select_related("team", "commander", "scribe").prefetch_related("timeline__author")

    def perform_service_create(self, data, team):
        return _incident_write(None, data, team, self.actor())

    def perform_service_update(self, obj, data):
        return _incident_write(obj, data, obj.team, self.actor())

    by_ref = by_ref_route(
        summary="Create or update an incident by its id in another tool",
        request=IncidentByRefSerializer,
        response=IncidentSerializer,
    )

    def upsert_by_ref(self, team, source, external_id, data):
        if "status" in data:
            # A status change needs the row first (it stamps the timestamps the status implies).
            with transaction.atomic():
                existing = Incident.objects.filter(team=team, source=source, external_id=external_id).first()
                if existing is not None:
                    return _incident_write(existing, data, team, self.actor()), False
                return services.upsert_incident_by_ref(
                    team=team, source=source, external_id=external_id, by=self.actor(), **data
                )
        # The upsert is one transaction and looks the row up itself: no outer transaction to nest in.
        return services.upsert_incident_by_ref(
            team=team, source=source, external_id=external_id, by=self.actor(), **data
        )

    def respond_created(self, incident):
        # A new incident has no timeline yet and its team is loaded: answer without reading it back.
        incident._prefetched_objects_cache = {"timeline": _no_rows(TimelineEvent)}
        return self.plain(self.get_serializer(incident).data, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Acknowledge, mitigate, resolve or close an incident, now or backdated",
        description="`at` must not be in the future nor break the order of the incident's times "
        "(no acknowledgement before the start...): a 400 names `at`, nothing is written.",
        request=IncidentMoveSerializer,
        responses={200: IncidentSerializer},
    )
    @action(detail=True, methods=["post"], serializer_class=IncidentMoveSerializer)
    def move(self, request, pk=None):
        incident = self.get_object()
        self.require_role(incident.team)
        serializer = IncidentMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.move_incident(incident=incident, by=self.actor(), **serializer.validated_data)
        self.serializer_class = IncidentSerializer
        return self.respond(incident)

    @extend_schema(
        summary="Add a timeline entry",
        request=TimelineEventSerializer,
        responses={201: TimelineEventSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], serializer_class=TimelineEventSerializer)
    def timeline(self, request, pk=None):
        incident = self.get_object()
        self.require_role(incident.team)

        def perform():
            serializer = TimelineEventSerializer(data=request.data, context=self.get_serializer_context())
            serializer.is_valid(raise_exception=True)
            event = services.add_timeline_event(incident=incident, by=self.actor(), **serializer.validated_data)
            return self.plain(TimelineEventSerializer(event).data, status.HTTP_201_CREATED)

        return self.idempotent(request, perform)

    @extend_schema(
        methods=["PATCH"],
        summary="Correct a timeline entry (its author or a lead)",
        description="The time stays within the incident's life (not before the start, not in the future): "
        "else a 400 naming `occurred_at`. Another member's entry is a 403. Audited.",
        request=TimelineEventSerializer,
        responses={200: TimelineEventSerializer},
    )
    @extend_schema(methods=["DELETE"], summary="Delete a timeline entry (its author or a lead; audited)", request=None)
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=r"timeline/(?P<event_pk>[0-9]+)",
        url_name="timeline-entry",
        serializer_class=TimelineEventSerializer,
    )
    def timeline_entry(self, request, pk=None, event_pk=None):
        incident = self.get_object()
        self.require_role(incident.team)
        event = incident.timeline.filter(pk=event_pk).first()
        if event is None:
            raise exceptions.NotFound()
        role = Membership.Role.LEAD if may(request, incident.team, Membership.Role.LEAD) else Membership.Role.MEMBER
        if request.method == "DELETE":
            timeline.delete_timeline_event(event=event, by=self.actor(), role=role)
            return self.plain(None, status.HTTP_204_NO_CONTENT)
        serializer = TimelineEventSerializer(event, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        event = timeline.update_timeline_event(event=event, by=self.actor(), role=role, **serializer.validated_data)
        return self.plain(TimelineEventSerializer(event).data)


class ProblemSerializer(ModelSerializer):
    team = TeamField()
    service = ScopedRelatedField(Service, required=False, allow_null=True)

    class Meta:
        model = Problem
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "team", *services.PROBLEM_FIELDS, "merged_into", "created_at", "updated_at"]
        read_only_fields = ["id", "merged_into", "created_at", "updated_at"]


@extend_schema_view(
    list=extend_schema(summary="Problems (recurring causes)"),
    retrieve=extend_schema(summary="A problem"),
    create=extend_schema(summary="Open a problem", parameters=[IDEMPOTENCY_HEADER]),
    partial_update=extend_schema(summary="Edit a problem or move its status (open, known_error, resolved)"),
)
class ProblemViewSet(ServiceBackedViewSet):
    serializer_class = ProblemSerializer
    filterset_class = ProblemFilterSet
    ordering_fields = ["created_at", "updated_at", "title"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def base_queryset(self):
        return Problem.objects.select_related("team")

    def perform_service_create(self, data, team):
        return services.create_problem(team=team, **data)

    def perform_service_update(self, obj, data):
        return services.update_problem(problem=obj, **data)


class ContributingFactorSerializer(ModelSerializer):
    class Meta:
        model = ContributingFactor
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = ["id", "category", "description"]
        read_only_fields = ["id"]


class PostmortemSerializer(ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    incident = ScopedRelatedField(Incident)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reviewer = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="The member who reviews and publishes (besides the leads); never the author.",
    )
    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    factors = ContributingFactorSerializer(many=True, read_only=True)

    class Meta:
        model = Postmortem
        validators = []  # uniqueness is the services\' rule, not a required-field trap
        fields = [
            "id",
            "team",
            "incident",
            "status",
            "author",
            *services.POSTMORTEM_TEXT_FIELDS,
            "factors",
            "reviewer",
            "reviewed_by",
            "self_reviewed",
            "published_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "team",
            "status",
            "author",
            "factors",
            "reviewed_by",
            "self_reviewed",
            "published_at",
            "created_at",
            "updated_at",
        ]


class PostmortemMoveSerializer(serializers.Serializer):
    to_status = serializers.ChoiceField(choices=Postmortem.Status.choices)


@extend_schema_view(
    list=extend_schema(summary="Postmortems with their contributing factors"),
    retrieve=extend_schema(summary="A postmortem"),
    create=extend_schema(
        summary="Start the postmortem of an incident (returns the existing one if any)",
        parameters=[IDEMPOTENCY_HEADER],
    ),
    partial_update=extend_schema(summary="Edit the blameless sections (refused once published)"),
)
class PostmortemViewSet(ServiceBackedViewSet):
    serializer_class = PostmortemSerializer
    filterset_class = PostmortemFilterSet
    ordering_fields = ["created_at", "updated_at", "published_at"]
    # DELETE only on a contributing factor: a postmortem itself is never deleted through the API.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self):
        return Postmortem.objects.select_related("team", "author").prefetch_related("factors")

    def perform_service_create(self, data, team):
        incident = data.pop("incident")
        self.require_role(incident.team)
        postmortem = services.start_postmortem(incident=incident, by=self.actor())
        if any(data.values()):
            postmortem = services.update_postmortem(postmortem=postmortem, **data)
        return postmortem

    def team_from(self, data):
        incident = data.get("incident")
        return incident.team if incident is not None else super().team_from(data)

    def perform_service_update(self, obj, data):
        data.pop("incident", None)
        return services.update_postmortem(postmortem=obj, **data)

    @extend_schema(
        summary="Add a contributing factor",
        request=ContributingFactorSerializer,
        responses={201: ContributingFactorSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @action(detail=True, methods=["post"], serializer_class=ContributingFactorSerializer)
    def factors(self, request, pk=None):
        postmortem = self.get_object()
        self.require_role(postmortem.team)

        def perform():
            serializer = ContributingFactorSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            factor = factors.add_contributing_factor(postmortem=postmortem, **serializer.validated_data)
            return self.plain(ContributingFactorSerializer(factor).data, status.HTTP_201_CREATED)

        return self.idempotent(request, perform)

    @extend_schema(
        methods=["PATCH"],
        summary="Correct a contributing factor (until the postmortem is published)",
        request=ContributingFactorSerializer,
        responses={200: ContributingFactorSerializer},
    )
    @extend_schema(methods=["DELETE"], summary="Remove a contributing factor (until published; audited)", request=None)
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=r"factors/(?P<factor_pk>[0-9]+)",
        url_name="factor",
        serializer_class=ContributingFactorSerializer,
    )
    def factor(self, request, pk=None, factor_pk=None):
        postmortem = self.get_object()
        self.require_role(postmortem.team)
        factor = postmortem.factors.filter(pk=factor_pk).first()
        if factor is None:
            raise exceptions.NotFound()
        if request.method == "DELETE":
            factors.delete_contributing_factor(factor=factor)
            return self.plain(None, status.HTTP_204_NO_CONTENT)
        serializer = ContributingFactorSerializer(factor, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        factor = factors.update_contributing_factor(factor=factor, **serializer.validated_data)
        return self.plain(ContributingFactorSerializer(factor).data)

    @extend_schema(
        summary="Move a postmortem: draft → in_review → published",
        description="Publishing is the review: by a lead or the named `reviewer`, never the author "
        "(a team with one member or lead publishes its own, recorded as `self_reviewed`); else 400 on `reviewer`.",
        request=PostmortemMoveSerializer,
        responses={200: PostmortemSerializer},
    )
    @action(detail=True, methods=["post"], serializer_class=PostmortemMoveSerializer)
    def transition(self, request, pk=None):
        postmortem = self.get_object()
        self.require_role(postmortem.team)
        serializer = PostmortemMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        postmortem = services.move_postmortem(
            postmortem=postmortem, to_status=serializer.validated_data["to_status"], by=self.actor()
        )
        self.serializer_class = PostmortemSerializer
        return self.respond(postmortem)
