"""The real OpenID provider (tests/oidc/provider.mjs, the certified oidc-provider) run by Node on loopback.

Needs `node` and `npm ci` in tests/oidc/ (.ci/run does it). Missing, a test skips on a laptop
and fails when OPSKAIZEN_REQUIRE_SERVICES=1.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENT_ID = "opskaizen-test"
CLIENT_SECRET = "a-test-client-secret-of-enough-length"


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (cd tests/oidc && npm ci)"
    return None


class RunningProvider:
    def __init__(self, process, issuer: str, accounts: Path):
        self.process, self.issuer, self.accounts = process, issuer, accounts

    def set_accounts(self, people: dict) -> None:
        """Who exists at the provider, and their claims (read again at every request)."""
        self.accounts.write_text(json.dumps(people))

    def settings(self, settings) -> None:
        """Point the Django settings at this provider, as an operator would from its discovery document."""
        settings.OIDC_ISSUER = self.issuer
        settings.SSO_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_RP_SCOPES = "openid email profile groups"
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{self.issuer}/auth"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{self.issuer}/token"
        settings.OIDC_OP_USER_ENDPOINT = f"{self.issuer}/me"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{self.issuer}/jwks"


def start_provider(tmp_path: Path, redirect_uri: str) -> RunningProvider:
    reason = _missing()
    if reason:
        if os.environ.get("OPSKAIZEN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"OpenID provider missing (OPSKAIZEN_REQUIRE_SERVICES=1): {reason}", pytrace=False)
        pytest.skip(reason)
    accounts = tmp_path / "accounts.json"
    accounts.write_text("{}")
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_ACCOUNTS": str(accounts),
    }
    process = subprocess.Popen(
        ["node", str(HERE / "provider.mjs")],
        cwd=HERE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for _ in range(50):
        line = process.stdout.readline()
        if line.startswith("READY "):
            return RunningProvider(process, line.split()[1], accounts)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("the OpenID provider did not start")
