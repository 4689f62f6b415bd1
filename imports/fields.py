"""What a CSV row can say about an incident or a change, and how its cells become field values.

The importable fields are the services' own writable fields (incidents.services.INCIDENT_FIELDS,
CHANGE_FIELDS) less the links a file cannot name (problem, causing change) and the source, which
is the import's. Columns are guessed from header names, including the names Jira's and
ServiceNow's list exports use; words are mapped with case-insensitive defaults the lead may
override.
"""

import datetime as dt
import hashlib
import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imports.models import Kind
from incidents.models import Change, Incident, Severity
from incidents.services import CHANGE_FIELDS, INCIDENT_FIELDS

# Links to other records, the source (chosen for the whole file), and the alert fingerprint, which only
# an alerting source sets from its own grouping.
NOT_FROM_A_FILE = {"problem", "caused_by_change", "source", "fingerprint"}
ORDER = {
    Kind.INCIDENTS: [
        "external_id", "title", "summary", "severity", "status", "service",
        "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "url",
    ],
    Kind.CHANGES: ["external_id", "title", "kind", "service", "committed_at", "deployed_at", "failed", "url"],
}  # fmt: skip
MODELS = {Kind.INCIDENTS: Incident, Kind.CHANGES: Change}
WRITABLE = {Kind.INCIDENTS: set(INCIDENT_FIELDS), Kind.CHANGES: set(CHANGE_FIELDS)}
REQUIRED = {Kind.INCIDENTS: {"title", "started_at"}, Kind.CHANGES: {"title"}}
# The fields whose content identifies a row that has no id column (see stable_id).
IDENTITY = {Kind.INCIDENTS: ("title", "started_at"), Kind.CHANGES: ("title", "deployed_at", "committed_at")}
TITLE_LENGTH = 200
MAX_REFUSED_SHOWN = 50

# Header names, normalised (lower case, letters and digits only), most specific first.
# Jira "Export CSV (all fields)": Summary, Issue key, Issue id, Issue Type, Status, Priority,
# Resolution, Created, Updated, Resolved, Component/s, Description… ServiceNow list export of
# incident: number, opened_at, short_description, priority, state, cmdb_ci, resolved_at, closed_at;
# of change_request: number, short_description, type, start_date, end_date, close_code.
GUESSES = {
    "external_id": ["externalid", "issuekey", "key", "number", "incidentid", "incidentnumber", "changeid",
                    "changenumber", "id", "issueid", "ticket", "reference", "ref"],
    "title": ["title", "shortdescription", "summary", "name", "subject", "message"],
    "summary": ["description", "details", "body", "notes"],
    "severity": ["severity", "sev", "priority", "urgency"],
    "status": ["status", "state", "incidentstate"],
    "service": ["service", "services", "component", "components", "componentss", "cmdbci", "configurationitem",
                "businessservice", "application", "app"],
    "started_at": ["startedat", "started", "start", "starttime", "openedat", "opened", "created", "createdat",
                   "createdon", "syscreatedon", "triggeredat", "date"],
    "detected_at": ["detectedat", "detected", "detectiontime"],
    "acknowledged_at": ["acknowledgedat", "acknowledged", "ackedat", "acknowledgedon"],
    "mitigated_at": ["mitigatedat", "mitigated", "restoredat", "restored"],
    "resolved_at": ["resolvedat", "resolved", "resolutiondate", "resolvedon", "closedat", "closed"],
    "url": ["url", "link", "permalink"],
    "kind": ["kind", "type", "changetype", "category"],
    "committed_at": ["committedat", "committed", "commitdate", "openedat", "created", "createdat", "syscreatedon",
                     "startdate", "workstart"],
    "deployed_at": ["deployedat", "deployed", "deployedon", "deploymentdate", "enddate", "workend",
                    "implementedat", "closedat", "date"],
    "failed": ["failed", "failure", "closecode", "outcome", "result"],
}  # fmt: skip

_SEV = {
    "SEV1": "sev1|sev 1|sev-1|1|p1|p0|critical|blocker|highest|urgent|emergency|1 - critical",
    "SEV2": "sev2|sev 2|sev-2|2|p2|high|major|2 - high",
    "SEV3": "sev3|sev 3|sev-3|3|p3|medium|moderate|normal|3 - moderate|3 - medium",
    "SEV4": "sev4|sev 4|sev-4|4|5|p4|p5|low|lowest|minor|trivial|planning|info|informational|warning|"
    "4 - low|5 - planning",
}
_STATUS = {
    "open": "open|new|to do|todo|in progress|triggered|acknowledged|on hold|investigating|identified|active|"
    "firing|reopened|backlog|selected for development|in review|work in progress",
    "mitigated": "mitigated|monitoring|restored|workaround",
    "resolved": "resolved|done|fixed|complete|completed",
    "closed": "closed|cancelled|canceled|won't do|wont do|declined|duplicate",
}
_KIND = {
    "standard": "standard|pre-approved|preapproved|routine",
    "normal": "normal|regular|minor|major|comprehensive",
    "emergency": "emergency|expedited|urgent|hotfix",
}
_FAILED = {
    "true": "yes|y|true|1|failed|failure|unsuccessful|successful with issues|rolled back|rollback|backed out|x",
    "false": "no|n|false|0|successful|success|ok|succeeded|passed|done",
}
DEFAULT_VALUES = {
    "severity": {word: sev for sev, words in _SEV.items() for word in words.split("|")},
    "status": {word: status for status, words in _STATUS.items() for word in words.split("|")},
    "kind": {word: kind for kind, words in _KIND.items() for word in words.split("|")},
    "failed": {word: value for value, words in _FAILED.items() for word in words.split("|")},
}
CHOICES = {
    "severity": set(Severity.values),
    "status": set(Incident.Status.values),
    "kind": set(Change.Kind.values),
    "failed": {"true", "false"},
}
VALUE_LABELS = {
    "severity": gettext_lazy("severity"),
    "status": gettext_lazy("status"),
    "kind": gettext_lazy("kind"),
    "failed": gettext_lazy("failed"),
    "service": gettext_lazy("service"),
}

# Times as the tools write them, tried after ISO 8601. Jira writes its user's format,
# "12/Mar/24 9:41 AM" by default; ServiceNow "2024-03-12 14:15:00" (ISO); spreadsheets vary.
_DAY_FIRST = [
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%Y %H:%M", "%d/%b/%y", "%d-%b-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %I:%M %p", "%d/%m/%Y", "%d/%m/%y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
]  # fmt: skip
_MONTH_FIRST = [f.replace("%d/%m", "%m/%d") for f in _DAY_FIRST]


def normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def normalise_word(word: str) -> str:
    return " ".join(word.strip().lower().split())


def guess_columns(kind: str, header: list[str], saved: dict | None = None) -> dict[str, str]:
    """field → column header: the saved mapping where its column is in the file, else a guess by name."""
    present = set(header)
    columns = {field: column for field, column in (saved or {}).items() if field in ORDER[kind] and column in present}
    taken = set(columns.values())
    by_name = {}
    for column in header:
        by_name.setdefault(normalise_header(column), column)
    for field in ORDER[kind]:
        if field in columns:
            continue
        for alias in GUESSES[field]:
            column = by_name.get(alias)
            if column and column not in taken:
                columns[field] = column
                taken.add(column)
                break
    return columns


def parse_time(raw: str, tzinfo, *, month_first: bool = False) -> dt.datetime | None:
    """An aware datetime from `raw`; a time without an offset is read in `tzinfo`. ValueError when unreadable."""
    raw = raw.strip()
    if not raw:
        return None
    value = None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        for pattern in _MONTH_FIRST if month_first else _DAY_FIRST:
            try:
                value = dt.datetime.strptime(raw, pattern)
                break
            except ValueError:
                continue
    if value is None:
        raise ValueError(raw)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tzinfo)
    return value


def stable_id(kind: str, fields: dict) -> str:
    """The id of a row that has none: a hash of what identifies it (docs/import.md)."""
    parts = []
    for name in IDENTITY[kind]:
        value = fields.get(name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        parts.append(normalise_word(str(value or "")))
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class RowReader:
    """Turns the cells of one row into the fields of an incident or a change, with field errors."""

    def __init__(self, *, kind: str, header: list[str], columns: dict, values: dict, services, tz: str,
                 month_first: bool):  # fmt: skip
        self.kind = kind
        self.columns = {field: column for field, column in columns.items() if column}
        index = {}
        for position, name in enumerate(header):
            index.setdefault(name, position)
        self.index = {field: index[column] for field, column in self.columns.items() if column in index}
        self.month_first = month_first
        self.tzinfo = zoneinfo.ZoneInfo(tz)
        self.model = MODELS[kind]
        self.maps = {}
        for field in CHOICES:
            lead = {normalise_word(k): str(v) for k, v in (values.get(field) or {}).items()}
            self.maps[field] = {**DEFAULT_VALUES[field], **lead}
        by_word = {}
        for service in services:
            by_word.setdefault(normalise_word(service.slug), service)
            by_word.setdefault(normalise_word(service.name), service)
        by_slug = {service.slug: service for service in services}
        for word, slug in (values.get("service") or {}).items():
            by_word[normalise_word(word)] = by_slug.get(slug) if slug else None
        self.services = by_word

    def column_of(self, field: str) -> str:
        return self.columns.get(field, "")

    def read(self, cells: list[str]) -> tuple[dict, dict]:
        """(fields, {field: message}) for one row; fields holds only what the file says."""
        fields, errors = {}, {}
        for field, position in self.index.items():
            raw = cells[position].strip() if position < len(cells) else ""
            try:
                value = self._value(field, raw)
            except ValidationError as exc:
                errors[field] = " ".join(exc.messages)
                continue
            if value is not None:
                fields[field] = value
        for field in REQUIRED[self.kind] - set(fields) - set(errors):
            errors[field] = _("This field is required.")
        if self.kind == Kind.INCIDENTS and "status" not in fields and "status" not in errors:
            # No status column (or a blank cell): the timestamps say how far the incident went.
            fields["status"] = next(
                (s for s, f in (("resolved", "resolved_at"), ("mitigated", "mitigated_at")) if fields.get(f)), "open"
            )
        if not errors and not fields.get("external_id"):
            fields["external_id"] = stable_id(self.kind, fields)
        return fields, errors

    def _value(self, field: str, raw: str):
        if not raw:
            return None
        model_field = self.model._meta.get_field(field)
        if model_field.get_internal_type() == "DateTimeField":
            try:
                return parse_time(raw, self.tzinfo, month_first=self.month_first)
            except ValueError:
                message = _("“%(value)s” is not a date and time this import can read.") % {"value": raw}
                raise ValidationError(message) from None
        if field == "service":
            word = normalise_word(raw)
            if word not in self.services:
                raise ValidationError(
                    _("“%(value)s” is not a service of this team: map it to one, or to none.") % {"value": raw}
                )
            return self.services[word]
        if field in self.maps:
            value = self.maps[field].get(normalise_word(raw))
            if value is None:
                raise ValidationError(
                    _("“%(value)s” is not a known %(field)s: map it to one of %(choices)s.")
                    % {"value": raw, "field": VALUE_LABELS[field], "choices": ", ".join(sorted(CHOICES[field]))}
                )
            return value == "true" if field == "failed" else value
        if field == "title" and len(raw) > TITLE_LENGTH:
            return raw[: TITLE_LENGTH - 1] + "…"
        return raw
