"""Tests of the web UI: access and isolation, pages, i18n; browser journeys in test_e2e_*."""

import uuid


def once(data: dict | None = None) -> dict:
    """Form data with a fresh single-use token, as a rendered form would send."""
    return {"_once": uuid.uuid4().hex, **(data or {})}
