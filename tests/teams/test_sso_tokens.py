"""An ID token is accepted only when signed by the provider, for us, in date and for this sign-in.

Real RS256 tokens signed here with a key of our own, checked by the backend's own verification;
each bad one is refused with a message that says why, and nothing is created.
"""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model

from teams.models import ExternalIdentity, Membership
from teams.oidc import ProviderBackend, SignInRefused, wanted_memberships

ISSUER = "https://id.example.test/realms/ops"
CLIENT = "opskaizen"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


PROVIDER_KEY = _key()
OTHER_KEY = _key()


def _pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def backend(settings):
    settings.OIDC_ISSUER = ISSUER
    settings.SSO_ENABLED = True
    settings.OIDC_RP_CLIENT_ID = CLIENT
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_RP_IDP_SIGN_KEY = _pem(PROVIDER_KEY)
    return ProviderBackend()


def token(key=PROVIDER_KEY, **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "u-1", "iat": now, "exp": now + 300, "nonce": "n-1", **claims}
    return jwt.encode(body, key, algorithm="RS256")


def test_it_accepts_a_token_signed_by_the_provider_for_us(backend):
    assert backend.verify_token(token(), nonce="n-1")["sub"] == "u-1"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"key": OTHER_KEY}, "signature is not valid"),
        ({"aud": "another-app"}, "wrong audience"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "has expired"),
        ({"iss": "https://evil.example.test"}, "another issuer"),
        ({"nonce": "an-earlier-sign-in"}, "nonce mismatch"),
    ],
    ids=["bad-signature", "wrong-audience", "expired", "wrong-issuer", "replayed-nonce"],
)
def test_it_refuses_a_bad_token_with_a_clear_message(backend, bad, message):
    with pytest.raises(SignInRefused, match=message):
        backend.verify_token(token(**bad), nonce="n-1")


def test_an_unsigned_token_is_refused(backend):
    unsigned = jwt.encode({"iss": ISSUER, "aud": CLIENT, "sub": "u-1"}, None, algorithm="none")
    with pytest.raises(SignInRefused, match="algorithm"):
        backend.verify_token(unsigned, nonce="n-1")


def test_the_claim_maps_to_teams_and_the_highest_role(settings):
    settings.OIDC_TEAM_ROLE_MAP = {"0b7c-guid": "payments:member"}
    claims = {"groups": ["/opskaizen/sre/viewer", "opskaizen:sre:lead", "0b7c-guid", "unrelated", "/opskaizen/x/admin"]}
    assert wanted_memberships(claims) == {"sre": "lead", "payments": "member"}


def test_a_custom_claim_can_carry_the_teams(settings):
    settings.OIDC_TEAMS_CLAIM = "opskaizen_roles"
    assert wanted_memberships({"opskaizen_roles": "opskaizen:sre:member", "groups": ["opskaizen:x:lead"]}) == {
        "sre": "member"
    }


def test_a_new_person_is_created_with_their_identity_and_teams(backend, team, db):
    user = backend.create_user({"sub": "u-9", "email": "zoe@example.test", "groups": [f"opskaizen:{team.slug}:member"]})
    assert ExternalIdentity.objects.get(user=user).subject == "u-9"
    membership = Membership.objects.get(user=user, team=team)
    assert (membership.role, membership.source) == ("member", "provider")
    assert not user.has_usable_password()


def test_a_local_account_with_the_same_email_is_not_taken_over(backend, lead, db):
    lead.email = "alice@example.test"
    lead.save()
    assert not backend.filter_users_by_claims({"sub": "u-2", "email": "alice@example.test"}).exists()
    assert get_user_model().objects.filter(email="alice@example.test").count() == 1


def test_a_replayed_state_at_the_callback_is_refused_with_a_clear_page_and_nothing_created(client, backend, db):
    session = client.session
    session["oidc_states"] = {"the-live-state": {"nonce": "n-1", "code_verifier": None, "added_on": time.time()}}
    session.save()
    users = get_user_model().objects.count()
    response = client.get("/oidc/callback/", {"code": "a-code", "state": "an-already-used-state"})
    assert response.status_code == 400
    assert "This sign-in is not valid any more." in response.content.decode()
    assert get_user_model().objects.count() == users
    assert "_auth_user_id" not in client.session


def test_a_refused_silent_refresh_says_why(client, backend):
    response = client.get("/oidc/callback/", {"error": "login_required", "state": "s"})
    assert response.status_code == 400
    assert "did not sign you in: login_required" in response.content.decode()
