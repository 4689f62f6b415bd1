"""The OpenAPI schema validates, and schemathesis finds no 5xx and no response that breaks it.

Every operation of /api/schema/ is fuzzed (valid and invalid inputs) against the WSGI app with a
read-write token of a populated team; checks: no server error, documented status codes and content
types, and bodies that conform to the schema (errors included).
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from teams.services import create_api_token
from tests import factories
from tests.api.conftest import populate

EXAMPLES_PER_OPERATION = 20


def test_the_schema_is_valid_openapi(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    paths = schema["paths"]
    assert "/api/v1/actions/{id}/transition/" in paths
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], f"{method} {path} does not document 401"
            assert "404" in operation["responses"], f"{method} {path} does not document 404"


def _load_schema():
    """The schema as /api/schema/ serves it, loaded without a request (collection has no database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = application  # calls go to the WSGI app in-process
    return loaded


schema = _load_schema()


@pytest.fixture
def wsgi_in_test_transaction(db):
    # Requests go through the raw WSGI app inside the test's transaction: keep Django from
    # closing that connection between requests (its test client does the same).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token_key(team, settings, wsgi_in_test_transaction):
    settings.API_THROTTLE_RATE = None
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    lead = factories.MembershipFactory(team=team, role="lead", user=factories.UserFactory(username="lead"))
    populate(team)
    _token, key = create_api_token(team=team, name="fuzz", scope="read_write", by=lead.user)
    return key


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,  # no .hypothesis/ folder left in the work tree
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, token_key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token_key}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
