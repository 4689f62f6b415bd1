"""Export one team's data to JSON and import it into an instance that does not have it.

The export is a Django fixture: the team, the users it references (by natural
key: their username), and every row of the product's apps that carries this
team (DESIGN: every row that belongs to a team carries its `team`). Importing
goes through `loaddata`, so it is one transaction, keeps primary keys and
timestamps, checks constraints and resets the PostgreSQL sequences.
"""

import datetime as dt
import json
import tempfile
from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from core.db import keyset_chunks
from teams.models import Team

# Exports written before the apps were split name some models by their old app: they still import.
LEGACY_LABELS = {
    "teams.integration": "integrations.integration",
    "teams.webhookdelivery": "integrations.webhookdelivery",
    "teams.outgoingwebhook": "integrations.outgoingwebhook",
    "teams.outgoingdelivery": "integrations.outgoingdelivery",
    "improvement.ritual": "rituals.ritual",
    "improvement.reviewsession": "rituals.reviewsession",
    "improvement.reviewdecision": "rituals.reviewdecision",
    "improvement.calendarfeed": "rituals.calendarfeed",
    "improvement.notification": "rituals.notification",
}


class LosslessEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder rounds datetimes to milliseconds; a backup keeps the microseconds."""

    def default(self, o):
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return super().default(o)


def team_models() -> list[type[models.Model]]:
    """The product's models whose rows belong to one team, in dependency order."""
    found = []
    for model in apps.get_models():  # every installed app: the apps above this one register theirs
        field = next((f for f in model._meta.concrete_fields if f.name == "team"), None)
        if field is not None and field.related_model is Team:
            found.append(model)
    return serializers.sort_dependencies([(None, found)])


def _referenced_users(team: Team, models_: list[type[models.Model]]):
    """Users the team's rows point at (members, owners, authors…)."""
    user_model = get_user_model()
    ids: set[int] = set()
    for model in models_:
        for field in model._meta.get_fields():
            if getattr(field, "related_model", None) is not user_model or not field.concrete:
                continue
            queryset = model.objects.filter(team=team)
            if field.many_to_many:
                ids.update(queryset.exclude(**{f"{field.name}__isnull": True}).values_list(field.name, flat=True))
            else:
                ids.update(queryset.exclude(**{f"{field.attname}__isnull": True}).values_list(field.attname, flat=True))
    return user_model.objects.filter(pk__in=ids).order_by("pk")


def export_team(team: Team) -> str:
    """The team's data as a JSON fixture (a list of objects)."""
    models_ = team_models()
    users = _referenced_users(team, models_)
    user_rows = json.loads(
        serializers.serialize(
            "json",
            users,
            fields=["username", "first_name", "last_name", "email", "password", "is_active", "date_joined"],
            use_natural_primary_keys=True,
            cls=LosslessEncoder,
        )
    )
    team_rows = json.loads(serializers.serialize("json", Team.objects.filter(pk=team.pk), cls=LosslessEncoder))
    rows = []
    for model in models_:
        for chunk in keyset_chunks(model.objects.filter(team=team)):
            rows += json.loads(serializers.serialize("json", chunk, use_natural_foreign_keys=True, cls=LosslessEncoder))
    return json.dumps(user_rows + team_rows + rows, indent=1, sort_keys=True, default=str)


def import_team(data: str) -> Team:
    """Load an export into this instance; refused when the team (or any of its rows) already exists."""
    try:
        rows = json.loads(data)
        for row in rows:
            row["model"] = LEGACY_LABELS.get(row.get("model"), row.get("model"))
        data = json.dumps(rows)
        team_row = next(row for row in rows if row.get("model") == "teams.team")
    except (json.JSONDecodeError, StopIteration, AttributeError, TypeError) as exc:
        raise ValidationError({"file": "This is not an OpsKaizen team export."}) from exc
    fields = team_row.get("fields", {})
    if Team.objects.filter(slug=fields.get("slug")).exists() or Team.objects.filter(pk=team_row.get("pk")).exists():
        raise ValidationError(
            {"team": f"Team “{fields.get('slug')}” already exists here: import into an empty instance."}
        )
    with tempfile.TemporaryDirectory() as tmp, transaction.atomic():
        path = Path(tmp) / "team.json"
        path.write_text(data)
        call_command("loaddata", str(path), verbosity=0)
    return Team.objects.get(pk=team_row["pk"])
