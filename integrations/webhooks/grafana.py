"""Grafana alerting (webhook contact point, payload version 1): Alertmanager's shape, mapped alike.

Grafana's notification carries Alertmanager's envelope (`groupKey`, `alerts` with `fingerprint`,
`startsAt`, `endsAt`, labels and annotations) plus its own fields, ignored here; each alert or
each group becomes an incident as for Alertmanager (integrations.webhooks.alertmanager), by the
integration's `grouping`.

Authentication, as the contact point is configured (the integration's secret serves both):
- HMAC signature (Grafana 12+, "HMAC Signature"): `X-Grafana-Alert-Signature: <hex HMAC-SHA256>`
  of the raw body, or of `<timestamp>:<raw body>` when a timestamp header is configured
  (`X-Grafana-Alert-Timestamp`, Unix seconds). A signed time is held to 5 minutes (a retry is
  signed anew); without one, a retry is the same body and its digest de-duplicates it.
- otherwise the Authorization header: `Bearer <secret>` ("Authentication Header Credentials"),
  or basic auth with the secret as password; compared as SHA-256 digests, in constant time.
"""

import hmac

from integrations.webhooks import (
    alertmanager,
    authorization_secret,
    check_fresh,
    hmac_sha256_hex,
    require_signature,
    require_token,
    token_digest,
    unix_time,
)

SOURCE = "grafana"
VERSION = "1"
SIGNATURE_HEADER = "X-Grafana-Alert-Signature"  # Grafana's default name (grafana/alerting http/hmac.go)
TIMESTAMP_HEADER = "X-Grafana-Alert-Timestamp"  # Grafana has no default: the set-up docs name this one


def sign(secret: str, body: bytes, timestamp: str = "") -> str:
    return hmac_sha256_hex(secret, (timestamp.encode() + b":" if timestamp else b"") + body)


def verify(headers, body: bytes, secret: str) -> None:
    signature = headers.get(SIGNATURE_HEADER, "").strip()
    if signature:
        timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
        require_signature(hmac.compare_digest(sign(secret, body, timestamp).encode(), signature.lower().encode()))
        if timestamp:
            check_fresh(unix_time(timestamp), "timestamp")
        return
    require_token(authorization_secret(headers), token_digest(secret))


def describe(headers, payload) -> tuple[str, str]:
    return alertmanager.describe(headers, payload, version=VERSION)


mapping_values = alertmanager.mapping_values


def plan(integration, event, payload):
    return alertmanager.plan(integration, event, payload, source=SOURCE, version=VERSION)


def handle(integration, event, payload):
    return alertmanager.handle(integration, event, payload, source=SOURCE, version=VERSION)
