"""Form helpers every app's pages use: a service's refusal in place, and the form's round trip."""

import functools
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal in place: errors on known fields go there, the rest above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.error_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [message for e in errors for message in e.messages])


def submit(
    request,
    form: forms.Form,
    save: Callable[[dict], object],
    *,
    done: Callable[[object], str] | str,
    message: str | Callable[[object], str] = "",
    template: str,
    context: dict | Callable[[], dict],
    form_key: str = "form",
) -> HttpResponse:
    """A page's form, the one way: a valid POST goes to the service, whose refusal shows in place.

    `save(cleaned_data)` calls the service (one transaction: a refusal writes nothing); on success the
    page says `message` and redirects to `done` (each a value, or a function of what `save` returned;
    `done` a URL or URL name). Otherwise `template` is rendered with `context` (a dict, or a function for a context
    only worth reading when it is shown) and the form as `form_key`, 400 when it has errors.
    """
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if message:
                messages.success(request, message(result) if callable(message) else message)
            return redirect(done(result) if callable(done) else done)
    shown = context() if callable(context) else context
    return render(request, template, {**shown, form_key: form}, status=400 if form.errors else 200)


def or_404(read: Callable) -> Callable:
    """A selector for a page: a row that does not exist, or is another team's, is a 404."""

    @functools.wraps(read)
    def page_read(*args, **kwargs):
        try:
            return read(*args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404 from None

    return page_read
