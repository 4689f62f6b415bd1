"""kombu's Redis transport, with channels that keep their broker's address: a worker survives an outage.

The bug (Celery 5.7.0 with kombu 5.7.0, the newest releases): when the broker connection drops,
the worker's consumer first calls ``Connection.collect()``, which tries to close the default
channel (that fails half-way: the pending BRPOP cannot be read from a dead server), then detaches
the transport from its ``Connection`` (``transport.client = None``). Celery 5.7 then calls
``Connection.close()`` to release the old socket, which closes that half-closed channel again.
If the worker holds an unacknowledged message (every task here is ``acks_late``), closing it tries
to put the message back (``restore_unacked_once``), which builds a new Redis connection pool from
``transport.client.hostname``: ``AttributeError: 'NoneType' object has no attribute 'hostname'``.
That is not a connection error, so nothing ignores it: the consumer logs "Unrecoverable error" and
the worker exits (with its embedded beat). When the held task then finishes, its acknowledgement
fails the same way. Celery 5.6 did not close the connection a second time; kombu's channel has
always read the broker's address from the transport, at each new pool.

The fix, here: a channel remembers the connection parameters it was opened with, so a channel
whose transport was detached can still reach its broker. Then, during the outage, restoring the
unacknowledged message fails with a *connection* error (which kombu and Celery ignore, as they
always did) and the message stays in Redis's ``unacked`` hash; when the held task finishes after
Redis is back, its acknowledgement goes through on the remembered address; if it never does,
kombu's visibility timeout re-delivers the message (tasks are idempotent). A channel that
knows nothing of its broker (it cannot happen) raises a connection error, not an AttributeError.

``register()`` points kombu's ``redis://`` and ``rediss://`` schemes at this transport (before
any connection is made; config/celery.py calls it), so the broker URL, its log lines and
``rediss://``'s TLS defaults stay kombu's own. Remove this module when a Celery/kombu release
fixes the double close: tests/faults/test_worker_broker_outage.py reproduces the crash on real
processes, and tests/test_operations.py shows kombu's own channel failing (that test starts to
fail once kombu is fixed).
"""

from kombu import transport as kombu_transport
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

SCHEMES = ("redis", "rediss")
PATH = f"{__name__}:Transport"


class Channel(kombu_redis.Channel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # opens the asynchronous (consuming) pool: remembered
        self._connparams(asynchronous=False)  # and the one for acks and restores, while the transport knows

    def _connparams(self, asynchronous=False):
        remembered = self.__dict__.setdefault("_opskaizen_connparams", {})
        if self.connection.client is not None:
            remembered[asynchronous] = kombu_redis.Channel._connparams(self, asynchronous=asynchronous)
        elif asynchronous not in remembered:
            # Cannot happen (both are remembered at birth); still a connection error, which the
            # consumer's clean-up ignores and which makes a publisher retry, never an AttributeError.
            raise RedisConnectionError("the broker connection was released")
        return dict(remembered[asynchronous])


class Transport(kombu_redis.Transport):
    Channel = Channel


def register() -> None:
    """Resolve redis:// and rediss:// broker URLs to this transport, in this process."""
    for scheme in SCHEMES:
        kombu_transport.TRANSPORT_ALIASES[scheme] = PATH
        kombu_transport._transport_cache.pop(scheme, None)  # in case a connection was resolved already
