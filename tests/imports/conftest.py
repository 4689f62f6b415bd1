from pathlib import Path

import pytest

from imports import services
from tests import factories

FILES = Path(__file__).parent / "files"


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


@pytest.fixture
def services_of_team(team):
    return {
        "checkout": factories.ServiceFactory(team=team, name="Checkout", slug="checkout"),
        "payments": factories.ServiceFactory(team=team, name="Payments", slug="payments"),
    }


def upload(team, by, name, *, kind="incidents", source="jira", content=None):
    return services.upload(team=team, by=by, kind=kind, source=source, file_name=name, content=content or read(name))
