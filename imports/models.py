"""CSV imports of incidents and changes: the mapping a team saved per source, and each import run."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from teams.models import Team


class Kind(models.TextChoices):
    INCIDENTS = "incidents", _("incidents")
    CHANGES = "changes", _("changes")


class ImportMapping(models.Model):
    """How a team's files from one source read: columns → fields, words → values, the time zone of naive times.

    Saved on each dry run, offered again on the next upload from the same source.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="import_mappings")
    kind = models.CharField(_("what"), max_length=10, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=40)
    columns = models.JSONField(_("columns"), default=dict, help_text=_("field → column header"))
    values = models.JSONField(_("values"), default=dict, help_text=_("field → {word in the file: value}"))
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    month_first = models.BooleanField(_("dates are month first (03/12 is 12 March)"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["team", "kind", "source"], name="import_mapping_once_per_source")
        ]

    def __str__(self) -> str:
        return f"{self.source} ({self.kind})"


class ImportRun(models.Model):
    """One uploaded file, its settings, and what its dry runs and its import did."""

    class State(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        CHECKING = "checking", _("dry run in progress")
        CHECKED = "checked", _("dry run done")
        IMPORTING = "importing", _("import in progress")
        IMPORTED = "imported", _("imported")
        REFUSED = "refused", _("refused, nothing written")
        FAILED = "failed", _("failed")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="import_runs")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(_("what"), max_length=10, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=40)
    file_name = models.CharField(_("file"), max_length=255)
    # The file itself, in the database: the worker that runs a large import may be another machine.
    # Emptied once the import has run.
    content = models.BinaryField(blank=True, default=b"")
    size = models.PositiveIntegerField(_("size in bytes"), default=0)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("separator"), max_length=1, blank=True)
    header = models.JSONField(_("columns in the file"), default=list)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    columns = models.JSONField(_("columns"), default=dict)
    values = models.JSONField(_("values"), default=dict)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    month_first = models.BooleanField(_("dates are month first"), default=False)
    skip_refused = models.BooleanField(_("skip refused rows"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.UPLOADED)
    # The last execution (dry run or import): counts and the first refused rows with why.
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    refused_rows = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.kind}, {self.source})"

    @property
    def in_progress(self) -> bool:
        return self.state in (self.State.CHECKING, self.State.IMPORTING)
