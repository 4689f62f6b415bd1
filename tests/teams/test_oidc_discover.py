"""`manage.py oidc_discover` reads a real provider's discovery document into the settings' lines."""

import pytest
from django.core.management import CommandError, call_command

from tests.oidc.provider import start_provider


@pytest.fixture
def provider(tmp_path):
    running = start_provider(tmp_path, redirect_uri="http://127.0.0.1:9/oidc/callback/")
    yield running
    running.process.kill()
    running.process.wait(timeout=10)


def test_it_prints_the_endpoints_of_the_provider(provider, capsys):
    call_command("oidc_discover", provider.issuer)
    out = capsys.readouterr().out.splitlines()
    assert f"OIDC_ISSUER={provider.issuer}" in out
    assert f"OIDC_JWKS_ENDPOINT={provider.issuer}/jwks" in out
    assert f"OIDC_AUTHORIZATION_ENDPOINT={provider.issuer}/auth" in out


def test_it_refuses_an_address_without_a_provider(provider):
    with pytest.raises(CommandError, match="No discovery document"):
        call_command("oidc_discover", provider.issuer + "/nothing-here")
