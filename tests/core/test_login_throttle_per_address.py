"""Login throttling per address too: many user names from one address lock the address, not the office next door."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from core.login_throttle import client_address
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def login(client, username, password, address="203.0.113.7", **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


@pytest.fixture
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_ADDRESS_FAILURE_LIMIT = 8
    return settings


def spray(client, count, address="203.0.113.7", **headers):
    """`count` failed logins from one address, each under a different user name (below the per-user limit)."""
    return [login(client, f"guess{index}", "wrong", address, **headers).status_code for index in range(count)]


def test_many_user_names_from_one_address_are_locked_once_the_address_limit_is_crossed(client, team, limits):
    user = MembershipFactory(team=team).user
    statuses = spray(client, limits.AXES_ADDRESS_FAILURE_LIMIT)
    assert statuses[:-1] == [200] * (limits.AXES_ADDRESS_FAILURE_LIMIT - 1)  # 7 user names, each refused plainly
    assert statuses[-1] == 429  # the failure that reaches the address limit locks
    response = login(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_another_address_still_logs_in_while_one_is_locked(client, team, limits):
    user = MembershipFactory(team=team).user
    spray(client, limits.AXES_ADDRESS_FAILURE_LIMIT)
    assert login(client, user.username, PASSWORD, address="198.51.100.20").status_code == 302


def test_a_burst_of_typos_below_the_address_limit_locks_no_one(client, team, limits):
    user = MembershipFactory(team=team).user
    spray(client, limits.AXES_ADDRESS_FAILURE_LIMIT - 2)  # an office's morning: several people mistype once
    assert login(client, user.username, PASSWORD).status_code == 302


def test_the_per_user_rule_still_locks_first(client, team, limits):
    user = MembershipFactory(team=team).user
    statuses = [login(client, user.username, "wrong").status_code for _ in range(limits.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == 429
    assert login(client, user.username, PASSWORD).status_code == 429
    assert login(client, MembershipFactory(team=team).user.username, PASSWORD).status_code == 302


def test_one_users_success_does_not_forgive_the_addresss_other_failures(client, team, limits):
    user = MembershipFactory(team=team).user
    spray(client, limits.AXES_ADDRESS_FAILURE_LIMIT - 1)
    assert login(client, user.username, PASSWORD).status_code == 302
    client.logout()
    assert login(client, "guess-after", "wrong").status_code == 429


def test_a_forged_forwarded_for_without_a_trusted_proxy_does_not_change_the_address(client, team, limits):
    limits.TRUSTED_PROXY_COUNT = 0
    user = MembershipFactory(team=team).user
    for index in range(limits.AXES_ADDRESS_FAILURE_LIMIT):
        login(client, f"guess{index}", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{index}")
    assert login(client, user.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_behind_one_trusted_proxy_the_address_is_the_one_the_proxy_saw(client, team, limits):
    limits.TRUSTED_PROXY_COUNT = 1
    user = MembershipFactory(team=team).user
    # The attacker forges a left-hand entry each time; the proxy appends the real address.
    for index in range(limits.AXES_ADDRESS_FAILURE_LIMIT):
        login(client, f"guess{index}", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.{index}, 203.0.113.7")
    locked = login(client, user.username, PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    elsewhere = login(client, user.username, PASSWORD, address="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert elsewhere.status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.1"),
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        (2, "6.6.6.6, 1.2.3.4, 172.16.0.2", "1.2.3.4"),
        (2, "1.2.3.4", "10.0.0.1"),  # fewer entries than proxies: the header is not trusted
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_the_client_address_comes_from_the_trusted_proxies_only(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
