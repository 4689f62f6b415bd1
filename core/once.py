"""Forms submitted once: a token in each form, refused when it comes back (a double click, a reload)."""

import re
import uuid
from functools import wraps

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect


def new_once_token() -> str:
    return uuid.uuid4().hex


def submitted_once_token(request) -> str:
    """The token the form came back with (re-used when the form is shown again with errors)."""
    token = request.POST.get(ONCE_FIELD, "") if request.method == "POST" else ""
    return token if _TOKEN_RE.fullmatch(token) else new_once_token()


def once(view):
    """Make a POST single-use by its form token, shared through the cache (atomic `add`).

    The first request claims the token; a duplicate arriving meanwhile or later
    creates nothing: it is sent where the first one went (or gets an empty
    htmx response). A refused submission (4xx) releases the token so the
    corrected form can be sent again.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        token = request.POST.get(ONCE_FIELD, "")
        if not _TOKEN_RE.fullmatch(token):
            return HttpResponseBadRequest(_("This form has expired: reload the page and submit it again."))
        key = f"opskaizen:once:{request.user.pk}:{token}"
        if not cache.add(key, _PENDING, timeout=24 * 3600):
            previous = cache.get(key)
            if request.htmx:
                if previous not in (None, _PENDING, _DONE):
                    return HttpResponseClientRedirect(previous)
                return HttpResponse(status=204)
            if previous not in (None, _PENDING, _DONE):
                return redirect(previous)
            return HttpResponse(_("This form was already submitted."), status=409)
        try:
            response = view(request, *args, **kwargs)
        except Exception:
            cache.delete(key)
            raise
        if response.status_code >= 400:
            cache.delete(key)
        elif response.status_code in (301, 302, 303):
            cache.set(key, response["Location"], timeout=24 * 3600)
        elif "HX-Redirect" in response:
            cache.set(key, response["HX-Redirect"], timeout=24 * 3600)
        else:
            cache.set(key, _DONE, timeout=24 * 3600)
        return response

    return wrapper


ONCE_FIELD = "_once"


_TOKEN_RE = re.compile(r"[0-9a-f]{32}")


_PENDING = "pending"


_DONE = "done"
