"""Requests to URLs that users configure (outgoing webhooks, chat webhooks): the SSRF guard.

A lead types the URL, the server sends the request: without a guard a lead could make
OpsKaizen POST to its own Redis, to the cloud metadata service (169.254.169.254) or to any
host of the internal network. So a URL is checked twice:

- when it is saved (``validate_outgoing_url``, a validator on the model fields, hence in
  the services, the forms, the API and the admin): http(s) only, no user name or password,
  the host resolves, and *every* address it resolves to is public;
- when it is used (``post``): the host is resolved again and checked again (DNS may have
  changed since: DNS rebinding), and the connection goes to the address just checked, never
  to a new resolution. Redirects are never followed.

Public means ``ipaddress``'s ``is_global`` and not multicast, for the address itself and for
the IPv4 address an IPv6 one carries (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64).
``OUTGOING_ALLOW_PRIVATE_NETWORKS`` lets an on-premises install reach loopback and private
networks (its Jira or chat is inside); link-local (the cloud metadata service), multicast,
reserved and unspecified addresses stay refused unless ``OUTGOING_ALLOWED_HOSTS`` names the
host or a network holding its addresses. Requests go out directly, not through an HTTP proxy.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The well-known NAT64 prefix (RFC 6052): 64:ff9b::a.b.c.d reaches a.b.c.d through a gateway.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What OUTGOING_ALLOW_PRIVATE_NETWORKS opens; the rest stays refused whatever the setting.
PRIVATE_KINDS = {"loopback", "private", "non-public"}
KIND_LABELS = {
    "unspecified": _("unspecified"),
    "loopback": _("loopback"),
    "link-local": _("link-local"),
    "multicast": _("multicast"),
    "reserved": _("reserved"),
    "private": _("private"),
    "non-public": _("non-public"),
}


REFUSED_ADDRESS = _(
    "%(where)s is a %(kind)s address: OpsKaizen only sends to public addresses (an administrator may "
    "allow internal ones with OUTGOING_ALLOW_PRIVATE_NETWORKS or OUTGOING_ALLOWED_HOSTS)."
)


def _where(host: str, ip) -> str:
    """ "10.0.0.5", or "jira.internal (10.0.0.5)" when a name resolved to it."""
    return str(ip) if host.strip("[]").lower() == str(ip) else f"{host} ({ip})"


class UnsafeURL(ValidationError):
    """A URL OpsKaizen will not send to: at save time a field error, at send time a refused delivery."""

    def __init__(self, message, params=None):
        super().__init__(message, code="unsafe_url", params=params)

    @property
    def reason(self) -> str:
        return self.messages[0]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]


def address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not public (a key of KIND_LABELS), or None when it is."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
            return address_kind(ip.ipv4_mapped)
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None
        embedded = ip.sixtofour or nat64
        if embedded is not None:
            kind = address_kind(embedded)
            if kind:
                return kind
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, shared by carriers and some VPNs
    return None


def _allowed_list() -> tuple[set[str], list]:
    names, networks = set(), []
    for entry in getattr(settings, "OUTGOING_ALLOWED_HOSTS", []):
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _refusal(ip: IPAddress, networks) -> str | None:
    """The kind of a refused address, or None when it may be used under the current settings."""
    kind = address_kind(ip)
    if kind is None or any(ip in network for network in networks if network.version == ip.version):
        return None
    if kind in PRIVATE_KINDS and getattr(settings, "OUTGOING_ALLOW_PRIVATE_NETWORKS", False):
        return None
    return kind


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address `host` resolves to, in the resolver's order; UnsafeURL when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(_("The host %(host)s could not be resolved."), params={"host": host}) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnsafeURL(_("The host %(host)s could not be resolved."), params={"host": host})
    return tuple(addresses)


def check(url: str) -> Target:
    """Parse, resolve and check `url`; the Target holds the addresses to connect to. Raises UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(_("This is not a valid URL.")) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeURL(_("Use an http:// or https:// URL."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(_("Leave the user name and password out of the URL."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(_("This is not a valid URL."))
    scheme = parts.scheme.lower()
    port = port or (443 if scheme == "https" else 80)
    names, networks = _allowed_list()
    addresses = resolve(host, port)
    if host.lower() not in names:
        for ip in addresses:
            kind = _refusal(ip, networks)
            if kind:
                raise UnsafeURL(REFUSED_ADDRESS, params={"where": _where(host, ip), "kind": KIND_LABELS[kind]})
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def validate_outgoing_url(value: str) -> None:
    """Model field validator: the URL must lead to a public address now (checked again at each send)."""
    try:
        URLValidator()(value)
    except ValidationError:
        return  # the URL field's own validator says so; one message is enough
    check(value)


@dataclass(frozen=True)
class Answer:
    status: int
    location: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def redirect(self) -> bool:
        return 300 <= self.status < 400

    def describe(self) -> str:
        """The outcome as the delivery log shows it, e.g. "HTTP 302, redirect to https://x/ not followed"."""
        if self.redirect:
            where = urlsplit(self.location)
            target = f"{where.scheme}://{where.netloc.rpartition('@')[2]}/" if where.netloc else "?"
            return f"HTTP {self.status}, redirect to {target} not followed"
        return f"HTTP {self.status}"


def _pinned_connection(addresses: tuple[IPAddress, ...]):
    """socket.create_connection, but to the checked addresses only (in order), never a new resolution."""

    def connect(address, timeout=None, source_address=None):
        error: OSError | None = None
        for ip in addresses:
            try:
                return socket.create_connection((str(ip), address[1]), timeout, source_address)
            except OSError as exc:
                error = exc
        raise error or OSError("no address to connect to")

    return connect


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` after checking it again; the Answer of the server, never a redirect followed.

    Raises UnsafeURL when the URL is refused now, OSError or http.client.HTTPException when the
    request fails (connection refused, timeout, TLS error, garbled answer).
    """
    target = check(url)
    if target.scheme == "https":
        # TLS is checked against the host name (SNI and certificate), the socket goes to the checked address.
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection._create_connection = _pinned_connection(target.addresses)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return Answer(response.status, response.getheader("Location") or "")
    finally:
        connection.close()
