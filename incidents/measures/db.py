"""Database building blocks shared by every metric: durations in seconds and percentiles.

Percentiles use linear interpolation between the two nearest ranks, exactly
PostgreSQL's ``percentile_cont``: for a fraction p of n sorted values
v[0..n-1], h = p·(n−1) and the result is v[⌊h⌋] + (h − ⌊h⌋)·(v[⌈h⌉] − v[⌊h⌋]).
The median of 1, 2, 3, 10 is 2.5 and its p90 is 7.9. SQLite has no such
aggregate, so we register one with the same arithmetic on every SQLite
connection: both backends return identical numbers (tested on both).
"""

import math

from django.db.backends.signals import connection_created
from django.db.models import Aggregate, FloatField, Func

SQLITE_PERCENTILE = "opskaizen_percentile_cont"


class Seconds(Func):
    """`later − earlier` in seconds (float, microsecond precision), NULL when either is NULL."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL: EXTRACT(EPOCH FROM interval) is an exact numeric (days count 86 400 s).
        return super().as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM (%(expressions)s)) AS double precision)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django registers django_timestamp_diff on SQLite: exact microseconds between two stored timestamps.
        return super().as_sql(
            compiler,
            connection,
            template="(django_timestamp_diff(%(expressions)s) / 1000000.0)",
            arg_joiner=", ",
            **extra_context,
        )


class Percentile(Aggregate):
    """Continuous percentile (linear interpolation, like percentile_cont) of a float expression; NULLs ignored."""

    function = "percentile_cont"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)r) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Aggregate.as_sql reads the template from the instance when it adds FILTER (WHERE …).
        clone = self.copy()
        clone.function = SQLITE_PERCENTILE
        clone.template = "%(function)s(%(expressions)s, %(fraction)r)"
        return clone.as_sql(compiler, connection, **extra_context)


def interpolate(values: list[float], fraction: float) -> float | None:
    """The percentile of `values` with percentile_cont's arithmetic (also used by the SQLite aggregate)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    # Same expression as PostgreSQL's float8_lerp, so the floats are bit-identical.
    return ordered[low] + ((position - low) * (ordered[high] - ordered[low]))


class _SQLitePercentileCont:
    """SQLite aggregate: collects the group's values, returns interpolate(values, fraction)."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(float(value))
            self.fraction = float(fraction)

    def finalize(self):
        return interpolate(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE, 2, _SQLitePercentileCont)


connection_created.connect(register_sqlite_functions, dispatch_uid="opskaizen_sqlite_percentile")
