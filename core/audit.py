"""Audit log: who changed what (django-auditlog); each app registers the models it audits.

Each entry carries the team in `additional_data`, so a lead sees their team's
log without joining every audited table.

`insert_audited` writes a new row and the entry django-auditlog would write for it, for less
CPU: the hot path of incident ingest (bench/ingest_bench.py).
"""

import functools

from auditlog import get_logentry_model
from auditlog.context import auditlog_disabled, auditlog_value
from auditlog.diff import get_field_value, get_fields_in_model, get_mask_function, is_primitive
from auditlog.models import LogEntry, LogEntryManager
from auditlog.registry import auditlog
from auditlog.signals import post_log, pre_log
from django.conf import settings
from django.db.models import Model, QuerySet
from django.dispatch import receiver
from django.utils.encoding import smart_str

from core.prepared import PreparedInsert


def _not_audited(model) -> list[str]:
    """`updated_at`, and the reverse relations (the incident's postmortem, an action's next cycle…).

    A reverse relation is not a column of the row, and django-auditlog would read it:
    a reverse one-to-one costs a query on every save (incident → postmortem).
    """
    reverse = [field.name for field in model._meta.get_fields() if field.auto_created and not field.concrete]
    return ["updated_at", *reverse]


def register(model, *, m2m_fields=None) -> None:
    """Audit `model` (each app registers its own in its AppConfig.ready)."""
    if not auditlog.contains(model):
        auditlog.register(model, exclude_fields=_not_audited(model), m2m_fields=m2m_fields or set())


class TeamAudited:
    """Mixin for audited models: tags each log entry with the row's team."""

    def get_additional_data(self) -> dict:
        return {"team_id": self.team_id}


def audit_log_for_team(team) -> QuerySet[LogEntry]:
    """The team's audit entries, newest first, shaped for a list page (no per-row queries)."""
    return (
        LogEntry.objects.filter(additional_data__team_id=team.pk)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-id")
    )


def record_actor(user) -> None:
    """Name `user` the actor of the audit entries the current request writes from now on.

    django-auditlog's middleware reads request.user before the view runs; an API token is
    authenticated by DRF inside the view, so without this its holder was never the actor of
    what the token wrote. Outside a request (no middleware context), or for a user who is not
    signed in (a service token), nothing changes.
    """
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None and getattr(user, "is_authenticated", False):
        context["actor"] = user


class _PreparedLogEntries(LogEntryManager):
    """django-auditlog's own log_create, whose final create() runs a prepared INSERT."""

    def __init__(self, inserter: PreparedInsert):
        super().__init__()
        self.model, self.inserter = inserter.model, inserter

    def create(self, **kwargs):
        entry = self.model(**kwargs)
        self.inserter.save(entry)
        return entry


@functools.cache
def _entries() -> _PreparedLogEntries:
    return _PreparedLogEntries(PreparedInsert(get_logentry_model()))  # AUDITLOG_LOGENTRY_MODEL is honoured


# Set on an instance while insert_audited saves it: the library's post_save receiver leaves that
# row's creation entry to insert_audited (through the library's own pre_log veto), and only that one.
_ENTRY_WRITTEN_AFTER = "_opskaizen_creation_entry_written_after_insert"


@receiver(pre_log, dispatch_uid="core.audit.leave_the_creation_entry_to_insert_audited")
def _leave_the_creation_entry_to_insert_audited(sender, instance, action, **kwargs):
    if action == LogEntry.Action.CREATE and instance.__dict__.get(_ENTRY_WRITTEN_AFTER):
        return False
    return None


# model -> (the registry's options for it, the fields whose changes it records); see _audited_fields.
_AUDITED_FIELDS: dict = {}


def _audited_fields(instance: Model) -> tuple[dict, tuple]:
    """The registry's options for the instance's model and the fields it records, as model_instance_diff picks them.

    The options are read from the registry on every call (a copy, cheap); the fields, which cost
    a walk of the model's fields, are picked again only when the options changed (a model
    registered again with other fields).
    """
    model = type(instance)
    options = auditlog.get_model_fields(model)
    cached = _AUDITED_FIELDS.get(model)
    if cached is None or cached[0] != options:
        fields = set(get_fields_in_model(instance))
        if options["include_fields"]:
            fields = [field for field in fields if field.name in options["include_fields"]]
        if options["exclude_fields"]:
            fields = [field for field in fields if field.name not in options["exclude_fields"]]
        cached = _AUDITED_FIELDS[model] = (options, tuple(fields))
    return options, cached[1]


def created_changes(instance: Model) -> dict | None:
    """`model_instance_diff(None, instance)`: the changes django-auditlog records for a new row.

    The library reads each field of the missing old row through two caught exceptions, and
    always gets the same answer (None, as text unless AUDITLOG_STORE_JSON_CHANGES): that was a
    third of an audit entry's CPU. Only that side is skipped; the fields, their values, the
    include/exclude lists and the masks are the library's. tests/core/test_audit_insert.py
    holds this equal to model_instance_diff.
    """
    use_json = settings.AUDITLOG_STORE_JSON_CHANGES
    missing = None if use_json else smart_str(None)
    options, fields = _audited_fields(instance)
    diff = {}
    for field in fields:
        value = get_field_value(instance, field, use_json)
        if value == missing:
            continue
        if field.name in options["mask_fields"]:
            mask = get_mask_function(options.get("mask_callable"))
            diff[field.name] = (mask(smart_str(missing)), mask(smart_str(value)))
        elif not use_json:
            diff[field.name] = (smart_str(missing), smart_str(value))
        else:
            diff[field.name] = (missing, value if is_primitive(value) else smart_str(value))
    return diff or None


def insert_audited(inserter: PreparedInsert, instance: Model) -> None:
    """`inserter.save(instance)` for a new row, with the audit entry django-auditlog would write.

    The entry is the library's own (LogEntryManager.log_create: content type, repr, team,
    correlation id; the request's actor and address through its pre_save receiver), sent
    through its pre_log / post_log signals, in the caller's transaction like the library's.
    Under an enclosing disable_auditlog() nothing is logged, as with the library's receiver; a row
    that is not new is saved as usual (the library logs its update).
    """
    if instance.pk is not None or not instance._state.adding or not auditlog.contains(type(instance)):
        inserter.save(instance)  # not a new audited row: the library's receivers, as for any save
        return
    instance.__dict__[_ENTRY_WRITTEN_AFTER] = True
    try:
        inserter.save(instance)  # other rows written by its receivers are audited by the library as usual
    finally:
        del instance.__dict__[_ENTRY_WRITTEN_AFTER]
    if auditlog_disabled.get(False):
        return  # under an enclosing disable_auditlog(), as the library's receiver
    sender = type(instance)
    vetoes = pre_log.send(sender, instance=instance, action=LogEntry.Action.CREATE)
    if any(answer is False for _receiver, answer in vetoes):
        return
    changes = None

    def logged(entry, error=None):
        post_log.send(
            sender,
            instance=instance,
            instance_old=None,
            action=LogEntry.Action.CREATE,
            error=error,
            pre_log_results=vetoes,
            changes=changes,
            log_entry=entry,
            log_created=entry is not None,
            use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES,
        )

    try:
        changes = created_changes(instance)
        entry = _entries().log_create(instance, action=LogEntry.Action.CREATE, changes=changes) if changes else None
    except BaseException as error:
        logged(None, error)
        raise
    if entry is not None:
        logged(entry)
