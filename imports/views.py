"""The lead's CSV import pages: upload, map columns and values, dry run, import, progress."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.tasks import enqueue
from imports import fields, forms, services
from imports.models import ImportMapping, ImportRun
from teams.decorators import team_view
from teams.models import Membership, Service

RECENT_RUNS = 20


@team_view(Membership.Role.LEAD)
def imports(request, team):
    """The upload form, the team's recent imports and its saved mappings."""
    form = forms.UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = services.upload(
                    team=team,
                    by=request.user,
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["source"],
                    file_name=upload.name,
                    content=upload.read(),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("imports:run", team.slug, run.pk)
        status = 400
    runs = ImportRun.objects.filter(team=team).select_related("by").defer("content")[:RECENT_RUNS]
    mappings = ImportMapping.objects.filter(team=team)
    return render(
        request,
        "imports/imports.html",
        {"team": team, "form": form, "runs": runs, "mappings": mappings},
        status=status,
    )


def _launch(request, run: ImportRun, *, dry_run: bool) -> None:
    """Claim the run and execute it here, or hand it to a worker when the file is large."""
    if not services.start(run=run, dry_run=dry_run):
        messages.error(request, _("This import is already running, or has run."))
        return
    if services.runs_in_background(run):
        if not enqueue("imports.execute", run.pk):
            ImportRun.objects.filter(pk=run.pk).update(
                state=ImportRun.State.FAILED, error=_("The task queue cannot be reached; try again in a moment.")
            )
        return
    services.execute(run=run)


def _settings_from(request, run: ImportRun) -> tuple[dict, dict]:
    """(keyword arguments of services.configure, {field: error}) read from the mapping form."""
    errors = {}
    columns = {field: request.POST.get(f"column_{field}", "") for field in fields.ORDER[run.kind]}
    values = {}
    for field in _value_fields(run):
        try:
            pairs = forms.parse_pairs(request.POST.get(f"values_{field}", ""))
        except ValidationError as exc:
            errors[f"values_{field}"] = " ".join(exc.messages)
            continue
        if pairs:
            values[field] = pairs
    return {
        "columns": columns,
        "values": values,
        "timezone_name": request.POST.get("timezone", "").strip(),
        "month_first": request.POST.get("month_first") == "on",
        "skip_refused": request.POST.get("skip_refused") == "on",
    }, errors


def _value_fields(run: ImportRun) -> list[str]:
    return [field for field in fields.ORDER[run.kind] if field in fields.CHOICES or field == "service"]


def _run_page(request, team, run: ImportRun, *, errors=None, submitted=None, status=200):
    values = (submitted or {}).get("values", run.values)
    value_fields = [
        {
            "name": field,
            "label": fields.VALUE_LABELS[field],
            "text": forms.format_pairs(values.get(field, {})),
            "error": (errors or {}).get(f"values_{field}"),
            "choices": sorted(fields.CHOICES.get(field, ())),
        }
        for field in _value_fields(run)
    ]
    columns = (submitted or {}).get("columns", run.columns)
    rows = [
        {
            "name": field,
            "label": fields.MODELS[run.kind]._meta.get_field(field).verbose_name,
            "column": columns.get(field, ""),
            "required": field in fields.REQUIRED[run.kind],
            "error": (errors or {}).get(field),
        }
        for field in fields.ORDER[run.kind]
    ]
    return render(
        request,
        "imports/run.html",
        {
            "team": team,
            "run": run,
            "rows": rows,
            "value_fields": value_fields,
            "services": Service.objects.filter(team=team).only("slug", "name"),
            "errors": errors or {},
            "general_error": (errors or {}).get(NON_FIELD_ERRORS, ""),
            "progress": services.progress_of(run),
            "can_configure": not run.in_progress and run.state != ImportRun.State.IMPORTED,
            "can_import": run.state in (ImportRun.State.CHECKED, ImportRun.State.REFUSED, ImportRun.State.FAILED)
            and run.finished_at is not None,
        },
        status=status,
    )


@team_view(Membership.Role.LEAD)
def run_page(request, team, run_id):
    """One upload: its mapping form (POST: save it and dry-run) and the result of the last run."""
    run = get_object_or_404(ImportRun.objects.select_related("by").defer("content"), team=team, pk=run_id)
    if request.method != "POST":
        return _run_page(request, team, run)
    submitted, errors = _settings_from(request, run)
    if not errors:
        try:
            services.configure(run=run, **submitted)
        except ValidationError as exc:
            errors = {field: " ".join(messages) for field, messages in exc.message_dict.items()}
    if errors:
        return _run_page(request, team, run, errors=errors, submitted=submitted, status=400)
    _launch(request, run, dry_run=True)
    return redirect("imports:run", team.slug, run.pk)


@team_view(Membership.Role.LEAD)
@require_POST
def run_import(request, team, run_id):
    """Import the file with the settings of its last dry run."""
    run = get_object_or_404(ImportRun.objects.defer("content"), team=team, pk=run_id)
    _launch(request, run, dry_run=False)
    return redirect("imports:run", team.slug, run.pk)


@team_view(Membership.Role.LEAD)
@require_GET
def progress(request, team, run_id):
    """The progress line, polled by the page while a worker runs the file."""
    run = get_object_or_404(ImportRun.objects.defer("content"), team=team, pk=run_id)
    response = render(
        request, "imports/_progress.html", {"team": team, "run": run, "progress": services.progress_of(run)}
    )
    if not run.in_progress:
        response["HX-Refresh"] = "true"  # done: show the whole result
    return response


@team_view(Membership.Role.LEAD)
@require_POST
def delete_mapping(request, team, mapping_id):
    mapping = get_object_or_404(ImportMapping, team=team, pk=mapping_id)
    mapping.delete()
    messages.success(request, _("The mapping of %(source)s is forgotten.") % {"source": mapping.source})
    return redirect("imports:imports", team.slug)
