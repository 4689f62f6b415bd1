"""Fixtures of the API and hook tests."""

import pytest


@pytest.fixture(autouse=True)
def _fresh_throttle_cache(fresh_throttle_cache):
    """Every API and hook test starts with empty throttle counters (the fixture is in tests/conftest.py)."""
