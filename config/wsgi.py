"""
WSGI config for config project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _settle() -> None:
    """Load what every request needs now, then put it out of the garbage collector's reach.

    The URLconf imports every view, serializer and form: on the first request otherwise (an
    import error then stops the worker at boot instead of failing that request). Everything
    alive now lives as long as the process; `gc.freeze()` moves it to the permanent generation,
    so that a full collection scans only what requests left behind. A full collection held
    the worker's GIL ~140 ms without it and ~9 ms with it, and the collector took 0.43 against
    0.25-0.30 ms of an API upsert's ~5 ms (bench/README.md, "Garbage collection").
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imported for its side effect
    gc.freeze()


_settle()
