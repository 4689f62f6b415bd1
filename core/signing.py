"""Shared secrets and HMAC-SHA256 signatures, for the incoming hooks and the outgoing webhooks."""

import hashlib
import hmac
import secrets


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, provided: str) -> bool:
    """Constant-time comparison of hex digests."""
    return hmac.compare_digest(expected_hex.encode(), provided.strip().lower().encode())


def timestamped_signature(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">: the generic incoming format and every outgoing webhook."""
    return "sha256=" + hmac_sha256_hex(secret, timestamp.encode() + b"." + body)
