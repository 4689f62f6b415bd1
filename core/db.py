"""Reading many rows without a server-side cursor: keyset chunks.

`QuerySet.iterator()` streams through a server-side cursor on PostgreSQL, which lives in the
session; behind a transaction-pooling PgBouncer the session is not ours between transactions, so
Django is told not to use them (DISABLE_SERVER_SIDE_CURSORS) and `iterator()` would then read
everything at once. Large reads go through `keyset_chunks` instead: each chunk is its own short
query (`WHERE pk > last ORDER BY pk LIMIT size`), memory stays at one chunk, and the cost of a
chunk does not grow with how far into the table it is (unlike OFFSET).
"""

from collections.abc import Iterator

from django.db.models import QuerySet

CHUNK_SIZE = 2000


def keyset_chunks(queryset: QuerySet, size: int = CHUNK_SIZE) -> Iterator[list]:
    """The rows of `queryset` in primary-key order, `size` rows per list."""
    if size < 1:
        raise ValueError("size must be at least 1")
    ordered = queryset.order_by("pk")
    last = None
    while True:
        page = ordered if last is None else ordered.filter(pk__gt=last)
        chunk = list(page[:size])
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        last = chunk[-1].pk
