"""Incoming webhooks: verify, store raw, map onto the incidents and improvement services.

One module per source (generic, github, jira, pagerduty, servicenow, alertmanager, grafana, opsgenie)
implements `verify(headers, body, secret)`, `describe(headers, payload) -> (event, delivery id)` and
`handle(integration, event, payload) -> result dict | Ignored | None` (None or Ignored: an event we
do not use, recorded as ignored with the reason); those whose values the lead may map also offer
`mapping_values(event, payload)` for the mapping preview (integrations.mapping, .preview).

A source whose events are incident upserts also offers `plan(integration, event, payload) -> Plan |
Ignored | None`: the delivery's writes as data (incident rows for incidents.bulk), so the drain
applies a whole batch of deliveries with one lookup and bulk writes. `plan` returning None hands
that delivery to `handle` (a change, an action, a write that depends on a lookup first).

Replay protection depends on what the sender signs:

- a signed send time (generic, ServiceNow): `check_fresh`, 5 minutes either way; a retry is signed anew;
- only the body (GitHub, Jira, PagerDuty), or nothing but a token (Opsgenie): a retry is the same
  body, hours later, so the guard is the vendor's delivery / event id (the inbox refuses it twice,
  and retention keeps the ids at least `WEBHOOK_MAX_EVENT_AGE_DAYS`), and `check_age` refuses an event older than that.
"""

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from dateutil import parser as dateparser
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.signing import hmac_sha256_hex, signature_matches

FRESHNESS = dt.timedelta(minutes=5)


class Refused(Exception):
    """A delivery we do not accept: bad signature, stale timestamp or malformed body (4xx, nothing stored)."""

    def __init__(self, status: int, code: str, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or {}


def malformed(message: str, errors: dict | None = None) -> Refused:
    return Refused(400, "malformed", message, errors)


def require_signature(ok: bool) -> None:
    if not ok:
        raise Refused(401, "invalid_signature", _("The signature is missing or does not match."))


def body_signature(secret: str, body: bytes, prefix: str = "sha256=") -> str:
    """`<prefix><hex HMAC-SHA256 of the raw body>`: how GitHub, Jira and PagerDuty sign."""
    return prefix + hmac_sha256_hex(secret, body)


def body_signature_matches(provided: str, secret: str, body: bytes, prefix: str = "sha256=") -> bool:
    """Constant-time check of one `<prefix><hex>` signature over the raw body."""
    provided = provided.strip()
    if not provided.startswith(prefix):
        return False
    return signature_matches(hmac_sha256_hex(secret, body), provided.removeprefix(prefix))


TOKEN_DIGEST_PREFIX = "sha256:"  # noqa: S105 - a label, not a secret


def token_digest(token: str) -> str:
    """What an integration stores for a credential the sender presents as is (a bearer token, a password).

    A random 256-bit token needs no slow password hash: one SHA-256 keeps the intake path fast.
    """
    return TOKEN_DIGEST_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def authorization_secret(headers) -> str:
    """The secret of an Authorization header: `Bearer <token>`, or the password of `Basic base64(user:password)`."""
    scheme, _space, value = headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
        _user, colon, password = decoded.partition(":")
        return password if colon else ""
    return ""


def require_token(provided: str, digest: str, message: str | None = None) -> None:
    """Refuse (401) unless `provided` is the credential whose digest is stored, compared in constant time."""
    candidate = token_digest(provided) if provided else ""
    # Both sides are digests of one length: the comparison takes the same time wherever they differ.
    if not candidate or not digest.startswith(TOKEN_DIGEST_PREFIX) or not hmac.compare_digest(candidate, digest):
        raise Refused(401, "invalid_token", message or _("The credential is missing or does not match."))


def check_fresh(moment: dt.datetime | None, what: str = "timestamp") -> None:
    """Refuse a delivery whose signed time is more than 5 minutes from now (a replay or a wrong clock)."""
    if moment is None:
        raise malformed(_("The delivery has no %(what)s.") % {"what": what})
    if abs(timezone.now() - moment) > FRESHNESS:
        raise Refused(
            400, "stale_timestamp", _("The %(what)s is more than 5 minutes from now: refused.") % {"what": what}
        )


def max_event_age() -> dt.timedelta:
    """How old an event from a body-only signer may be (WEBHOOK_MAX_EVENT_AGE_DAYS, longer than any vendor retries)."""
    return dt.timedelta(days=settings.WEBHOOK_MAX_EVENT_AGE_DAYS)


def check_age(moment: dt.datetime | None, what: str) -> None:
    """Refuse an event from a body-only signer (GitHub, Jira, PagerDuty) older than the maximum age.

    Vendors retry the same signed body for hours (PagerDuty up to 48 h, GitHub redelivers up to
    3 days), so a late delivery is normal: its id de-duplicates it. One older than the maximum age
    is refused, as no vendor retries that long and its id may be pruned from the log.
    """
    if moment is None:
        raise malformed(_("The delivery has no %(what)s.") % {"what": what}, {what: [_("This field is required.")]})
    days = settings.WEBHOOK_MAX_EVENT_AGE_DAYS
    if timezone.now() - moment > max_event_age():
        raise Refused(
            400,
            "event_too_old",
            _("The %(what)s is more than %(days)d days ago: refused.") % {"what": what, "days": days},
            {what: [_("Older than %(days)d days.") % {"days": days}]},
        )


@dataclass
class Plan:
    """What one delivery writes, as incident rows of one source (see incidents.bulk for the row keys).

    The drain applies the rows of a delivery whole or not at all; `result` is the delivery's result
    as recorded on it: `{key: pk, "created": bool}`, or with `many` `{"incidents": [pk…], "created": n}`.
    """

    source: str
    rows: list[dict]
    many: bool = False
    key: str = "incident"

    def result(self, outcomes) -> dict:
        if self.many:
            return {"incidents": [o.record.pk for o in outcomes], "created": sum(o.created for o in outcomes)}
        (outcome,) = outcomes
        return {self.key: outcome.record.pk, "created": outcome.created}


class Ignored:
    """What handle() returns for an event OpsKaizen does not use: recorded as ignored, with the reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def __bool__(self) -> bool:
        return False


def unix_time(value) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(str(value).strip()), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise malformed(_("The timestamp is not a Unix time.")) from None


def parse_time(value, field: str) -> dt.datetime | None:
    """A vendor timestamp (ISO 8601, Jira's +0000, ServiceNow's 'YYYY-MM-DD HH:MM:SS' in UTC) as aware UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise malformed(_("Not a timestamp."), {field: [_("Not a timestamp.")]})
    try:
        moment = dateparser.isoparse(value) if "T" in value else dateparser.parse(value)
    except (ValueError, OverflowError):
        raise malformed(_("Not a timestamp."), {field: [_("Not a timestamp: %(v)s") % {"v": value[:40]}]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def dig(payload, *path, required=True, kind=None):
    """payload[path…], or a malformed-delivery refusal naming the missing path."""
    value = payload
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        else:
            if required:
                name = ".".join(map(str, path))
                raise malformed(_("Missing %(field)s.") % {"field": name}, {name: [_("This field is required.")]})
            return None
    if kind is not None and value is not None and not isinstance(value, kind):
        name = ".".join(map(str, path))
        raise malformed(_("Wrong type for %(field)s.") % {"field": name}, {name: [_("Wrong type.")]})
    return value


def text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""
