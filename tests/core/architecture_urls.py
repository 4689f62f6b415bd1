"""Every URL the product serves, as docs/architecture.md's table lists it: (route, name, view)."""

import re

from django.urls import URLResolver, get_resolver

# Django's own pages (sign-in, password reset, the admin, language switch) and the format-suffix
# twins DRF's router adds are not ours to document one by one.
SKIPPED_PREFIXES = ("admin/", "accounts/", "i18n/")


def readable(route: str) -> str:
    """A router's regex as a path: ^incidents/(?P<pk>[^/]+)/$ → incidents/<pk>/."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def _walk(resolver, prefix="", namespace=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from _walk(pattern, prefix + str(pattern.pattern), inner)
            continue
        route = prefix + str(pattern.pattern)
        if route.startswith(SKIPPED_PREFIXES) or "(?P<format>" in route or not pattern.name:
            continue
        callback = pattern.callback
        cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        view = f"{cls.__module__}.{cls.__name__}" if cls else f"{callback.__module__}.{callback.__name__}"
        yield readable(route), ":".join(part for part in (namespace, pattern.name) if part), view


def url_rows() -> list[tuple[str, str, str]]:
    return list(_walk(get_resolver()))
