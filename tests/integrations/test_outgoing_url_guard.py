"""Outgoing and chat webhook URLs only reach public addresses: checked when saved, again when sent.

These tests run with the production default (OUTGOING_ALLOW_PRIVATE_NETWORKS off) unless a
test turns it on. Name resolution is replaced by a table (socket.getaddrinfo), the unit boundary;
connections are real, to local servers on 127.0.0.1.
"""

import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core import egress
from integrations.models import OutgoingDelivery, OutgoingWebhook
from integrations.services import create_outgoing_webhook
from integrations.tasks import dispatch_pending
from rituals import notifications
from rituals.models import Notification, Ritual
from rituals.services import create_ritual
from tests import factories
from tests.web import once

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"

# One address of every class that must be refused, as a URL host.
FORBIDDEN = {
    "loopback": "127.0.0.1",
    "loopback by name (/etc/hosts)": "localhost",
    "loopback elsewhere in 127/8": "127.1.2.3",
    "IPv6 loopback": "[::1]",
    "private 10/8": "10.0.0.5",
    "private 172.16/12": "172.16.4.2",
    "private 192.168/16": "192.168.1.1",
    "cloud metadata (link-local)": "169.254.169.254",
    "IPv6 link-local": "[fe80::1]",
    "IPv6 unique local": "[fd00::1]",
    "multicast": "224.0.0.1",
    "IPv6 multicast": "[ff02::1]",
    "unspecified": "0.0.0.0",  # noqa: S104 - a URL host here, nothing binds to it
    "IPv6 unspecified": "[::]",
    "reserved (240/4)": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "carrier-grade NAT": "100.64.0.1",
    "IPv4-mapped loopback": "[::ffff:127.0.0.1]",
    "IPv4-mapped metadata": "[::ffff:169.254.169.254]",
    "IPv4-mapped private": "[::ffff:10.0.0.1]",
    "NAT64 of the metadata address": "[64:ff9b::a9fe:a9fe]",
    "6to4 of loopback": "[2002:7f00:1::1]",
    "documentation (TEST-NET-1)": "192.0.2.10",
}


@pytest.fixture
def dns(monkeypatch):
    """A resolver table: dns["name"] = ["10.0.0.1", ...]; other names resolve as usual (tests/conftest.py)."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            if not table[host]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port, 0, 0) if ":" in ip else (ip, port),
                )
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class Server:
    """A local HTTP server: records each POST (headers, body); answers `status`, with `location` if given."""

    def __init__(self, status=200, location="", tls=None):
        self.requests: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, b""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server_names: list[str | None] = []
        if tls is not None:  # (certificate file, key file): serve HTTPS, recording the SNI names asked for
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(**kwargs) -> Server:
        started.append(Server(**kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def queue_delivery(endpoint: OutgoingWebhook) -> OutgoingDelivery:
    return OutgoingDelivery.objects.create(endpoint=endpoint, event="action.moved", payload={"id": "x"})


def ritual_fields(**overrides):
    return {"name": "Weekly review", "weekday": 0, "time_of_day": "10:00", "timezone": "UTC", **overrides}


# --- at save time ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_every_internal_address_class_is_refused_for_an_outgoing_webhook(team, host):
    with pytest.raises(ValidationError) as refused:
        create_outgoing_webhook(team=team, url=f"http://{host}:8080/hook")
    assert list(refused.value.message_dict) == ["url"]
    assert "only sends to public addresses" in refused.value.message_dict["url"][0]
    assert not OutgoingWebhook.objects.exists()


@pytest.mark.parametrize("host", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_every_internal_address_class_is_refused_for_a_chat_webhook(team, host):
    with pytest.raises(ValidationError) as refused:
        create_ritual(team=team, **ritual_fields(chat_webhook_url=f"https://{host}/services/T0/B0/x"))
    assert list(refused.value.message_dict) == ["chat_webhook_url"]
    assert not Ritual.objects.exists()


def test_the_refusal_names_the_address_and_its_class(team, dns):
    dns["jira.corp.example"] = ["10.20.30.40"]
    with pytest.raises(ValidationError) as refused:
        create_outgoing_webhook(team=team, url="https://jira.corp.example/rest/webhook")
    message = refused.value.message_dict["url"][0]
    assert "jira.corp.example (10.20.30.40) is a private address" in message
    assert "OUTGOING_ALLOW_PRIVATE_NETWORKS" in message


def test_a_host_name_resolving_to_a_private_address_is_refused(team, dns):
    dns["hooks.internal.example"] = ["192.168.10.7"]
    with pytest.raises(ValidationError, match="private address"):
        create_outgoing_webhook(team=team, url="https://hooks.internal.example/okz")


def test_a_host_name_is_refused_when_any_of_its_addresses_is_internal(team, dns):
    dns["split.example"] = [PUBLIC, "2606:4700::1111", "169.254.169.254"]
    with pytest.raises(ValidationError, match="link-local address"):
        create_outgoing_webhook(team=team, url="https://split.example/okz")


def test_a_host_name_with_only_public_addresses_is_accepted(team, dns):
    dns["hooks.slack.example"] = [PUBLIC, "2606:4700::1111"]
    endpoint = create_outgoing_webhook(team=team, url="https://hooks.slack.example/services/x")
    assert endpoint.url == "https://hooks.slack.example/services/x"


def test_a_host_name_that_does_not_resolve_is_refused(team, dns):
    dns["nowhere.example"] = []
    with pytest.raises(ValidationError) as refused:
        create_outgoing_webhook(team=team, url="https://nowhere.example/okz")
    assert refused.value.message_dict["url"] == ["The host nowhere.example could not be resolved."]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com/hook", "Use an http:// or https:// URL."),
        ("https://user:secret@hooks.example.com/okz", "Leave the user name and password out of the URL."),
        ("https://user@hooks.example.com/okz", "Leave the user name and password out of the URL."),
    ],
)
def test_other_schemes_and_credentials_in_the_url_are_refused(team, url, message):
    with pytest.raises(ValidationError) as refused:
        create_outgoing_webhook(team=team, url=url)
    assert refused.value.message_dict["url"] == [message]


def test_a_malformed_url_gets_one_message_not_two(team):
    with pytest.raises(ValidationError) as refused:
        create_outgoing_webhook(team=team, url="https://")
    assert refused.value.message_dict["url"] == ["Enter a valid URL."]


def test_the_settings_page_shows_the_refusal_on_the_url_field(client, team, lead):
    client.force_login(lead)
    response = client.post(
        reverse("integrations:add_outgoing", args=[team.slug]), {"url": "http://169.254.169.254/latest/meta-data/"}
    )
    assert response.status_code == 400
    assert response.context["outgoing_form"].errors["url"] == [
        "169.254.169.254 is a link-local address: OpsKaizen only sends to public addresses (an administrator "
        "may allow internal ones with OUTGOING_ALLOW_PRIVATE_NETWORKS or OUTGOING_ALLOWED_HOSTS)."
    ]
    page = response.content.decode()
    assert "link-local address" in page and 'value="http://169.254.169.254/latest/meta-data/"' in page
    assert not OutgoingWebhook.objects.exists()


def test_the_ritual_form_shows_the_refusal_on_the_chat_field(client, team, lead):
    client.force_login(lead)
    data = once(
        {
            "name": "Weekly review",
            "kind": "weekly_review",
            "weekday": "0",
            "time_of_day": "10:00",
            "timezone": "UTC",
            "duration_minutes": "45",
            "stale_after_days": "10",
            "chat_webhook_url": "http://[::1]:6379/",
            "active": "on",
        }
    )
    response = client.post(reverse("rituals:ritual_create", args=[team.slug]), data)
    assert response.status_code == 400
    assert "::1 is a loopback address" in response.context["form"].errors["chat_webhook_url"][0]
    assert not Ritual.objects.exists()


def test_the_api_answers_400_naming_the_chat_field(team, make_client, dns):
    client, _token = make_client(team)
    dns["redis.internal.example"] = ["10.0.0.9"]
    body = {**ritual_fields(), "time_of_day": "10:00", "chat_webhook_url": "http://redis.internal.example:6379/"}
    response = client.post("/api/v1/rituals/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert "redis.internal.example (10.0.0.9) is a private address" in response.json()["errors"]["chat_webhook_url"][0]
    assert not Ritual.objects.exists()

    ritual = factories.RitualFactory(team=team)
    response = client.patch(f"/api/v1/rituals/{ritual.pk}/", {"chat_webhook_url": "http://0.0.0.0/"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["chat_webhook_url"]
    ritual.refresh_from_db()
    assert ritual.chat_webhook_url == ""


def test_the_admin_refuses_an_internal_url_with_a_field_error(client, team):
    client.force_login(factories.UserFactory(username="root", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/integrations/outgoingwebhook/add/",
        {
            "team": team.pk,
            "url": "http://127.0.0.1:6379/",
            "secret": "s3cret",
            "events": "[]",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
            "deliveries-MIN_NUM_FORMS": "0",
            "deliveries-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert "127.0.0.1 is a loopback address" in response.content.decode()
    assert not OutgoingWebhook.objects.exists()


# --- the settings that open the guard ------------------------------------------------------------


def test_private_networks_are_allowed_when_the_setting_is_on(team, dns, settings):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True
    dns["jira.corp.example"] = ["10.20.30.40"]
    assert create_outgoing_webhook(team=team, url="https://jira.corp.example/hook").pk
    assert create_outgoing_webhook(team=team, url="http://127.0.0.1:8080/hook").pk
    ritual = create_ritual(team=team, **ritual_fields(chat_webhook_url="https://[fd00::5]/hooks/x"))
    assert ritual.chat_webhook_url == "https://[fd00::5]/hooks/x"


@pytest.mark.parametrize("host", ["169.254.169.254", "[fe80::1]", "224.0.0.1", "0.0.0.0", "240.0.0.1"])  # noqa: S104
def test_link_local_multicast_and_reserved_stay_refused_with_private_networks_on(team, settings, host):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(ValidationError):
        create_outgoing_webhook(team=team, url=f"http://{host}/hook")


def test_the_allow_list_takes_host_names_and_networks(team, dns, settings):
    dns["jira.corp.example"] = ["10.20.30.40"]
    dns["chat.corp.example"] = ["172.20.0.8"]
    settings.OUTGOING_ALLOWED_HOSTS = ["Jira.Corp.Example.", "172.20.0.0/16"]
    assert create_outgoing_webhook(team=team, url="https://jira.corp.example/hook").pk
    assert create_outgoing_webhook(team=team, url="https://chat.corp.example/hook").pk
    with pytest.raises(ValidationError):  # a network outside the list is still refused
        create_outgoing_webhook(team=team, url="https://10.0.0.1/hook")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),
        ("2002:a9fe:a9fe::", "link-local"),
        ("ff05::2", "multicast"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_address_kinds(address, kind):
    assert egress.address_kind(ipaddress.ip_address(address)) == kind


# --- at send time ---------------------------------------------------------------------------------


def test_a_host_that_now_resolves_internally_is_refused_at_send_time_and_not_retried(team, dns, servers):
    internal = servers()
    dns["rebind.example"] = [PUBLIC]
    endpoint = create_outgoing_webhook(team=team, url=f"http://rebind.example:{internal.port}/hook")
    dns["rebind.example"] = ["127.0.0.1"]  # DNS rebinding: public when saved, loopback when sent
    delivery = queue_delivery(endpoint)

    assert dispatch_pending() == {"failed": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, None)
    assert delivery.last_error.startswith("refused: rebind.example (127.0.0.1) is a loopback address")
    assert internal.requests == []
    assert dispatch_pending() == {}  # given up: never tried again


def test_the_request_goes_to_the_address_that_was_checked(team, dns, servers, settings):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True
    receiver = servers()
    calls = []
    real = socket.getaddrinfo

    def resolver_that_changes_its_mind(host, port, *args, **kwargs):
        if host != "pinned.example":
            return real(host, port, *args, **kwargs)  # the IP literal given to connect()
        calls.append(host)
        ip = "127.0.0.1" if len(calls) == 1 else "192.0.2.1"  # a later lookup would go elsewhere
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    endpoint = OutgoingWebhook.objects.create(team=team, url=f"http://pinned.example:{receiver.port}/hook")
    delivery = queue_delivery(endpoint)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", resolver_that_changes_its_mind)
        assert dispatch_pending() == {"delivered": 1}
    assert calls == ["pinned.example"]  # resolved once, for the check; the connection reused it
    headers, body = receiver.requests[0]
    assert headers["host"] == f"pinned.example:{receiver.port}"
    assert json.loads(body) == {"id": "x"}
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_a_redirect_is_not_followed_and_the_delivery_fails(team, servers, settings):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True  # both local servers are reachable: only the rule stops it
    internal = servers()
    redirecting = servers(status=302, location=f"http://127.0.0.1:{internal.port}/latest/meta-data/")
    endpoint = create_outgoing_webhook(team=team, url=redirecting.url)
    delivery = queue_delivery(endpoint)

    assert dispatch_pending() == {"failed": 1}
    assert len(redirecting.requests) == 1
    assert internal.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 302)
    assert delivery.last_error == f"HTTP 302, redirect to http://127.0.0.1:{internal.port}/ not followed"


def test_the_production_default_refuses_a_url_saved_before_the_guard(team, servers):
    receiver = servers()
    endpoint = OutgoingWebhook.objects.create(team=team, url=receiver.url)  # written around the validation
    delivery = queue_delivery(endpoint)
    assert dispatch_pending() == {"failed": 1}
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("refused: 127.0.0.1 is a loopback address")
    assert receiver.requests == []


def make_chat_notification(team, url) -> Notification:
    return Notification.objects.create(
        team=team, kind="session_opened", channel="chat", object_id=1, recipient=url, subject="s", body="b"
    )


def test_a_chat_webhook_that_now_resolves_to_the_metadata_service_is_refused_once(team, dns, servers):
    target = servers()
    dns["chat.example"] = ["169.254.169.254", "127.0.0.1"]
    notification = make_chat_notification(team, f"http://chat.example:{target.port}/hooks/x")
    assert notifications.deliver(notification.pk) == "failed"  # no RetryLater: not retried
    notification.refresh_from_db()
    assert notification.attempts == 1
    assert notification.last_error.startswith("refused: chat.example (169.254.169.254) is a link-local address")
    assert target.requests == []


def test_a_chat_webhook_redirect_is_not_followed(team, servers, settings):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True
    internal = servers()
    redirecting = servers(status=301, location=f"http://127.0.0.1:{internal.port}/")
    notification = make_chat_notification(team, redirecting.url)
    assert notifications.deliver(notification.pk) == "failed"
    notification.refresh_from_db()
    assert "redirect to" in notification.last_error and "not followed" in notification.last_error
    assert internal.requests == []
    assert len(redirecting.requests) == 1


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for tls.example, trusted by the client side for this test."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=tls.example", "-addext", "subjectAltName=DNS:tls.example"],
        check=True, capture_output=True,
    )  # fmt: skip
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: real(cafile=str(cert)))
    return str(cert), str(key)


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(team, dns, servers, settings, certificate):
    settings.OUTGOING_ALLOW_PRIVATE_NETWORKS = True
    server = servers(tls=certificate)
    dns["tls.example"] = ["127.0.0.1"]
    dns["impostor.example"] = ["127.0.0.1"]  # same server, a name its certificate does not cover
    good = queue_delivery(create_outgoing_webhook(team=team, url=f"https://tls.example:{server.port}/hook"))
    bad = queue_delivery(create_outgoing_webhook(team=team, url=f"https://impostor.example:{server.port}/hook"))

    assert dispatch_pending() == {"delivered": 1, "retry": 1}
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "delivered"
    assert len(server.requests) == 1 and server.requests[0][0]["host"] == f"tls.example:{server.port}"
    assert server.server_names[0] == "tls.example"  # SNI is the host name, not the address connected to
    assert (bad.status, bad.last_status_code) == ("pending", None)
    assert "certificate verify failed" in bad.last_error
