"""A hot lookup, or a hot INSERT, compiled to SQL once per database, then run again with other values.

Building and compiling a queryset with joins and a subquery costs more CPU than running it
(~2 ms against ~0.3 ms for the API token's lookup, on every API request). `PreparedLookup`
builds the queryset once with placeholder values, keeps Django's compiled SQL and its column
layout, and on each call runs that SQL with the real values, turning the row into model
instances the way QuerySet iteration does (select_related rows, annotations, converters).
Routing is kept: the database is the router's choice for each call.

`PreparedInsert` does the same for `save()` of a new row: Django builds the INSERT again for
every save (column list, a placeholder per field, RETURNING), which cost as much CPU as
preparing the values; an incident and its audit entry are two such INSERTs per API upsert.

Both run their SQL, which never changes, through `statement_cursor`: on PostgreSQL its values are
bound by the server instead of being quoted into the text by psycopg (Django's default), so that
PostgreSQL can keep the statement prepared (parsed and planned once per connection) where the
connection allows it (OPTIONS `prepare_threshold`; off behind PgBouncer in transaction pooling).
"""

import uuid

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.db.models import Model, signals
from django.db.models.query import get_related_populators
from django.db.models.sql import InsertQuery
from django.utils.asyncio import async_unsafe

try:  # the PostgreSQL backend with psycopg 3 (the only one this project installs for PostgreSQL)
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, CursorDebugWrapper, ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from django.db.backends.utils import CursorWrapper
    from psycopg.pq import Format

    class _LoggedStatement(CursorDebugWrapper):
        """Django's query log for a server-bound statement: the SQL with its values, as Django logs it
        for server-side binding (a prepared statement leaves psycopg no text to read back)."""

        def execute(self, sql, params=None):
            with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
                return CursorWrapper.execute(self, sql, params)

except (ImportError, ImproperlyConfigured):  # pragma: no cover - Django's backend refuses a missing psycopg so
    ServerBindingCursor = None


@async_unsafe  # as connection.cursor(): checked before the health check's query
def statement_cursor(connection):
    """`connection.cursor()` for SQL that is the same on every call, its values bound server-side on PostgreSQL.

    Django's PostgreSQL cursors bind on the client: psycopg quotes every value into the SQL text,
    and PostgreSQL parses and plans a new text each time. A server-binding cursor sends the SQL
    and the values apart; psycopg then prepares the statement once it has run `prepare_threshold`
    times on the connection (settings: at its first run on direct connections, never behind a
    transaction pooler), and only these statements can be prepared: Django's own cursors bind on the client,
    which psycopg never prepares. What `connection.cursor()` does is kept, in its order: the
    health check, the connection, Django's error wrapping, its execute wrappers and query log
    (assertNumQueries and the replica router's tests count these statements as any other), the
    time zone of the connection's loaders.
    """
    if ServerBindingCursor is None or connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
        if connection.timezone != connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(connection.timezone, cursor)  # as Django's create_cursor
        if connection.queries_logged:  # DEBUG, assertNumQueries, CaptureQueriesContext
            connection.validate_thread_sharing()
            return _LoggedStatement(cursor, connection)
        return connection._prepare_cursor(cursor)


class PreparedLookup:
    """`build(*placeholders)` returns the queryset; `.first(*values)` its first row for `values`, or None.

    The queryset must not depend on anything but its placeholders (no time, no request), and each
    placeholder must reach the SQL as one parameter, unchanged (an equality filter on a column).
    `kinds` says which placeholders are integers (for an integer column); the others are strings.
    """

    def __init__(self, model, build, kinds: tuple[type, ...] = (str,)):
        self.model, self.build, self.kinds = model, build, kinds
        self._compiled: dict[str, tuple] = {}

    def _compile(self, alias: str) -> tuple:
        # Found in the compiled parameters by position; a value equal to one changes nothing.
        markers = [
            -(uuid.uuid4().int % 10**15) - 1 if kind is int else f"opskaizen-placeholder-{uuid.uuid4()}"
            for kind in self.kinds
        ]
        compiler = self.build(*markers).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        params = list(params)
        slots = [params.index(marker) for marker in markers]
        select, klass_info, annotations = compiler.select, compiler.klass_info, dict(compiler.annotation_col_map)
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        converters = compiler.get_converters([column[0] for column in select])
        populators = get_related_populators(klass_info, select, alias)  # stateless: kept with the SQL
        return sql, params, slots, compiler, converters, start, end, init_list, populators, annotations

    def first(self, *values):
        alias = router.db_for_read(self.model)
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(alias)
        sql, params, slots, compiler, converters, start, end, init_list, populators, annotations = compiled
        params = list(params)
        for slot, value in zip(slots, values, strict=True):
            params[slot] = value
        with statement_cursor(connections[alias]) as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if converters:
            row = next(iter(compiler.apply_converters([row], converters)))
        obj = self.model.from_db(alias, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in annotations.items():
            setattr(obj, name, row[position])
        return obj


class PreparedInsert:
    """`save(obj)` is `obj.save()` for a new row of `model`, with the INSERT compiled once per database.

    What Model.save() does for a new row is kept, in its order: routing, unsaved related objects
    refused, the pre_save signal, each field's own pre_save (auto_now_add; defaults are set by
    __init__) and database preparation, one INSERT … RETURNING in the caller's transaction
    (marked for rollback on error, as save() does), the returned columns through their
    converters, the instance's state, then the post_save signal (the audit log's receivers run
    from it). Refused at construction: a model with parents, a proxy, an auto-created model, an
    order_with_respect_to, a field with a database default or its own SQL placeholder. Sent to
    save() itself: a model whose save() is overridden or patched (tests inject faults there),
    a row with a primary key or an expression as a value, a database that cannot return columns
    from an INSERT. A pre_save receiver that sets the primary key or an expression is an error.
    """

    def __init__(self, model):
        meta = model._meta
        self.model = model
        self.fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
        if (
            meta.parents
            or meta.proxy
            or meta.auto_created
            or meta.order_with_respect_to
            or meta.auto_field is None
            or any(f.has_db_default() or hasattr(f, "get_placeholder") for f in self.fields)
        ):
            raise ImproperlyConfigured(f"PreparedInsert: {model.__name__} needs Model.save().")
        self.returning = meta.db_returning_fields
        self._compiled: dict[str, tuple] = {}

    def _compile(self, alias: str) -> tuple:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [self.model()], raw=True)  # the values are never used
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = self.returning
        [(sql, _params)] = compiler.as_sql()
        columns = [field.get_col(self.model._meta.db_table) for field in self.returning]
        return sql, compiler, compiler.returning_params, compiler.get_converters(columns)

    def _needs_save(self, obj) -> bool:
        return (
            self.model.save is not Model.save
            or obj.pk is not None
            or not obj._state.adding
            or any(hasattr(obj.__dict__.get(field.attname), "resolve_expression") for field in self.fields)
        )

    def save(self, obj) -> None:
        if type(obj) is not self.model:
            raise TypeError(f"PreparedInsert({self.model.__name__}) cannot save a {type(obj).__name__}.")
        if self._needs_save(obj):
            obj.save()
            return
        alias = router.db_for_write(self.model, instance=obj)
        connection = connections[alias]
        if not connection.features.can_return_columns_from_insert:
            obj.save(using=alias)
            return
        obj._prepare_related_fields_for_save(operation_name="save")
        signals.pre_save.send(sender=self.model, instance=obj, raw=False, using=alias, update_fields=None)
        values = [field.pre_save(obj, True) for field in self.fields]
        if obj.pk is not None or any(hasattr(value, "resolve_expression") for value in values):
            raise TypeError("PreparedInsert: a primary key or an expression set before saving needs Model.save().")
        params = [
            field.get_db_prep_save(value, connection=connection)
            for field, value in zip(self.fields, values, strict=True)
        ]
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(alias)
        sql, compiler, returning_params, converters = compiled
        with transaction.mark_for_rollback_on_error(using=alias), statement_cursor(connection) as cursor:
            cursor.execute(sql, params)
            rows = [connection.ops.fetch_returned_insert_columns(cursor, returning_params)]
        if converters:
            rows = list(compiler.apply_converters(rows, converters))
        for value, field in zip(rows[0], self.returning, strict=True):
            setattr(obj, field.attname, value)
        obj._state.db, obj._state.adding = alias, False
        signals.post_save.send(
            sender=self.model, instance=obj, created=True, update_fields=None, raw=False, using=alias
        )
