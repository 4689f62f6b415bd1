"""What every viewset of the API shares: parsing, pagination, ordering, team scoping, Idempotency-Key."""

import copy
import hashlib
import json

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import Unprocessable
from core.api.plumbing import check_body_size
from teams.api.auth import IsTeamCaller, may, token_of
from teams.models import IdempotencyKey, Membership, Team
from teams.selectors import teams_for_request

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID). The same key with the same body replays the first response; "
        "the same key with another body is refused with 422. Kept 24 hours."
    ),
)
IDEMPOTENCY_TTL = IdempotencyKey.TTL

REF_PARAMETERS = [
    OpenApiParameter(
        "source",
        {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,40}$"},
        OpenApiParameter.PATH,
        description="e.g. jira, github, pagerduty (a slug, like the `source` field)",
    ),
    OpenApiParameter("external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="the id in that tool"),
]
REF_PATH = r"by-ref/(?P<source>[-a-zA-Z0-9_]{1,40})/(?P<external_id>[\s\S]{1,200})"


def clean_ref(external_id: str) -> str:
    """An external id from the URL: any printable text (slashes included), no control characters."""
    if any(ord(char) < 32 or ord(char) == 127 for char in external_id) or not external_id.strip():
        raise serializers.ValidationError({"external_id": [_("Control characters are not allowed here.")]})
    return external_id


def by_ref_route(*, summary: str, request: type[serializers.Serializer], response: type[serializers.Serializer]):
    """PUT …/by-ref/<source>/<external_id>/: create or update by the record's id in another tool.

    Written once for every viewset that offers it: the viewset's `upsert_by_ref(team, source,
    external_id, data) -> (obj, created)` does the write through its service; the answer is 201 with
    the new record or 200 with the updated one (`respond_created` may answer without a read-back).
    """

    @extend_schema(
        summary=summary, request=request, responses={200: response, 201: response}, parameters=REF_PARAMETERS
    )
    @action(detail=False, methods=["put"], url_path=REF_PATH, serializer_class=request)
    def by_ref(self, http_request, source, external_id):
        external_id = clean_ref(external_id)
        data = validated(request(data=http_request.data, partial=True, context=self.get_serializer_context()))
        team = self.team_from(data)
        obj, created = self.upsert_by_ref(team, source, external_id, data)
        self.serializer_class = response
        return self.respond_created(obj) if created else self.respond(obj, status.HTTP_200_OK)

    return by_ref


def context_teams(context) -> QuerySet[Team]:
    """The teams a serializer may relate rows to: the request's, or the one team a webhook writes for."""
    if context.get("team") is not None:
        return Team.objects.filter(pk=context["team"].pk)
    request = context.get("request")
    return teams_for_request(request) if request is not None else Team.objects.none()


def release(serializer: serializers.BaseSerializer, *, detached: bool = False) -> None:
    """Let a serializer that has done its work be freed by reference counting, not by the cyclic collector.

    A serializer and its bound fields point at each other (BindingDict.serializer, field.parent),
    and so do a ListSerializer and its child: each request left ~300 objects in cycles, and the
    collector ran about every second API write (gc.freeze in config/wsgi.py makes each run
    cheaper, not rarer). `fields` is cached on first use and built again if asked for, so
    dropping it loses nothing: the data already computed stays, and a serializer asked for its
    fields or data again (the browsable API's forms) rebuilds them. What hung from the dropped
    fields is unreachable (`detached`): a nested ListSerializer and its child are unlinked.
    """
    fields = serializer.__dict__.pop("fields", None)
    for field in (fields or {}).values():
        if isinstance(field, serializers.BaseSerializer):
            release(field, detached=True)
    child = getattr(serializer, "child", None)
    if isinstance(child, serializers.BaseSerializer):
        release(child, detached=True)
        if detached:
            child.parent = None


def validated(serializer: serializers.BaseSerializer) -> dict:
    """The serializer's validated data as a plain dict (a ValidationError with the fields at fault), then released."""
    try:
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
    finally:
        release(serializer)


class TeamScopedViewSet(viewsets.GenericViewSet):
    """A viewset over rows that carry `team`: reads scoped to the caller's teams, writes checked by role."""

    permission_classes = [IsTeamCaller]
    lookup_value_regex = "[^/]+"  # any id reaches the view, which answers a JSON 404
    write_role = Membership.Role.MEMBER
    team_field = "team"

    def initial(self, request, *args, **kwargs):
        check_body_size(request)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        # The answer's data is computed: its serializer (and a page's) can be freed with the request.
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        for value in (data, *(data.values() if isinstance(data, dict) else ())):
            serializer = getattr(value, "serializer", None)
            if isinstance(serializer, serializers.BaseSerializer):
                release(serializer)
        return response

    def visible_teams(self):
        return teams_for_request(self.request)

    def scope(self, queryset):
        return queryset.filter(**{f"{self.team_field}__in": self.visible_teams()})

    def actor(self):
        """The user to record as author: the token's creator or the signed-in user."""
        user = self.request.user
        return user if user and user.is_authenticated else None

    def require_role(self, team: Team, role: str | None = None) -> None:
        if not may(self.request, team, role or self.write_role):
            raise exceptions.PermissionDenied(_("Your role in this team does not allow this."))

    def default_team(self) -> Team | None:
        token = token_of(self.request)
        if token is not None:
            return token.team
        teams = list(self.visible_teams()[:2])
        return teams[0] if len(teams) == 1 else None

    def team_from(self, data: dict) -> Team:
        team = data.pop("team", None) or self.default_team()
        if team is None:
            raise exceptions.ValidationError({"team": [_("Say which team (its slug).")]})
        self.require_role(team)
        return team

    # --- Idempotency-Key on POST -------------------------------------------------

    def idempotent(self, request, perform):
        """Run `perform()` (returning a Response) at most once per Idempotency-Key."""
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return perform()
        if len(key) > 255:
            raise exceptions.ValidationError({"Idempotency-Key": [_("At most 255 characters.")]})
        token = token_of(request)
        owner = f"token:{token.pk}" if token else f"user:{request.user.pk}"
        body = json.dumps(request.data, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()
        IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
        previous = IdempotencyKey.objects.filter(owner=owner, key=key).first()
        if previous is not None:
            return self._replay(previous, fingerprint)
        try:
            with transaction.atomic():
                response = perform()
                if 200 <= response.status_code < 300:
                    IdempotencyKey.objects.create(
                        owner=owner,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        response_body=json.loads(json.dumps(response.data, default=str)),
                    )
        except IntegrityError:
            previous = IdempotencyKey.objects.filter(owner=owner, key=key).first()
            if previous is None:
                raise
            return self._replay(previous, fingerprint)
        return response

    def _replay(self, previous: IdempotencyKey, fingerprint: str) -> Response:
        if previous.fingerprint != fingerprint:
            raise Unprocessable(
                _("This Idempotency-Key was already used with another request body; use a new key."),
                code="idempotency_key_reused",
            )
        return Response(previous.response_body, status=previous.status_code, headers={"Idempotent-Replayed": "true"})


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with its fields built from the model once per class, then copied.

    DRF introspects the model again for every serializer instance (build_field per
    field); every request builds at least one. The first instance of a class keeps its
    fields as a template and later instances get a deep copy, which is how DRF itself
    copies declared fields. Nothing in a field depends on the instance: querysets of
    related fields are resolved from the context at validation time (ScopedRelatedField).
    """

    def get_fields(self):
        template = type(self).__dict__.get("_fields_template")
        if template is None:
            template = {name: _Recipe(field) for name, field in super().get_fields().items()}
            type(self)._fields_template = template  # a benign race: two threads build the same thing
        return {name: recipe.fresh() for name, recipe in template.items()}


class _Recipe:
    """How to make an unbound copy of a template field, decided once per field.

    A field holding other fields (a nested serializer, a many=True relation, a ListField's
    child) is deep-copied: the inner fields get bound to it. A plain field is copied from the
    template's attributes, its lists and dicts copied one level (what Field.__init__ copies when
    it is built again from its arguments, at a tenth of the cost: two serializers of ~20 fields
    per API write); a related field's queryset is only ever cloned (`.all()`). The template is
    never bound, so what is copied is the state __init__ left; which attributes are lists or
    dicts is read once, not on every copy (bench/ingest_bench.py).
    """

    __slots__ = ("deep", "field", "one_level")

    def __init__(self, field: serializers.Field):
        arguments = [*field._args, *field._kwargs.values()]
        self.field = field
        self.deep = isinstance(field, serializers.BaseSerializer) or any(
            isinstance(a, serializers.Field) for a in arguments
        )
        self.one_level = tuple(name for name, value in vars(field).items() if isinstance(value, list | dict))

    def fresh(self) -> serializers.Field:
        if self.deep:
            return copy.deepcopy(self.field)
        fresh = object.__new__(self.field.__class__)
        fresh.__dict__ = state = self.field.__dict__.copy()
        for name in self.one_level:
            state[name] = state[name].copy()
        return fresh


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key among the rows of the teams the caller may see (others "do not exist")."""

    def __init__(self, model=None, team_field="team", **kwargs):
        self.model, self.team_field = model, team_field
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.filter(**{f"{self.team_field}__in": context_teams(self.context)})


class TeamField(serializers.SlugRelatedField):
    """The team by slug, among the teams the caller may see; defaults to the token's team."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Team slug; defaults to the token's team.")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Team.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        return context_teams(self.context)


class ServiceBackedViewSet(TeamScopedViewSet):
    """List/retrieve from a scoped queryset; create/update through a service function.

    Subclasses implement `perform_service_create(data, team)` and `perform_service_update(obj, data)`.
    """

    def get_queryset(self):
        return self.scope(self.base_queryset())

    def base_queryset(self):
        raise NotImplementedError

    def respond(self, obj, status_code=status.HTTP_200_OK):
        obj = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(obj).data, status=status_code)

    def respond_created(self, obj):
        return self.respond(obj, status.HTTP_201_CREATED)

    def plain(self, data, status_code=status.HTTP_200_OK):
        return Response(data, status=status_code)

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request, *args, **kwargs):
        def perform():
            data = validated(self.get_serializer(data=request.data))
            team = self.team_from(data)
            obj = self.perform_service_create(data, team)
            return self.respond(obj, status.HTTP_201_CREATED)

        return self.idempotent(request, perform)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        self.require_role(obj.team)
        data = validated(self.get_serializer(obj, data=request.data, partial=True))
        data.pop("team", None)
        obj = self.perform_service_update(obj, data)
        return self.respond(obj)

    def perform_service_create(self, data, team):
        raise NotImplementedError

    def perform_service_update(self, obj, data):
        raise NotImplementedError


class TeamUserField(serializers.SlugRelatedField):
    """A user by username, among the members of the teams the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", get_user_model().objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        return get_user_model().objects.filter(memberships__team__in=context_teams(self.context)).distinct()
