"""Reading an uploaded CSV file: its size, encoding, separator, header and rows (stdlib csv only)."""

import codecs
import csv
import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# Tried in this order: a file that decodes as UTF-8 is UTF-8; anything else is read as
# Latin-1 (Windows-1252 for the bytes 0x80–0x9F, which Excel writes on Western systems).
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (",", ";")


def max_bytes() -> int:
    return settings.OPSKAIZEN_IMPORT_MAX_BYTES


def max_rows() -> int:
    return settings.OPSKAIZEN_IMPORT_MAX_ROWS


def check_size(size: int) -> None:
    """Refuse a file over the size limit before anything reads it."""
    if size > max_bytes():
        raise ValidationError(
            {
                "file": _("The file is %(size)s; the limit is %(limit)s.")
                % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes())}
            }
        )


def decode(content: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 with or without a byte-order mark, else Windows-1252 / Latin-1."""
    for encoding in ENCODINGS:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        name = "utf-8" if encoding == "utf-8-sig" else encoding
        if encoding == "utf-8-sig" and content.startswith(codecs.BOM_UTF8):
            name = "utf-8-bom"
        return text, name
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """Comma or semicolon: the one that splits the header line into more columns (quotes respected)."""
    first_line = next(iter(text.splitlines()), "")
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def read(content: bytes) -> tuple[list[str], list[tuple[int, list[str]]], str, str]:
    """(header, [(line number, cells)], encoding, delimiter) of `content`; refused over the limits.

    Line numbers are the file's own (the header is line 1; a quoted cell over several lines
    counts them), so a lead finds the row in a text editor or a spreadsheet.
    """
    check_size(len(content))
    text, encoding = decode(content)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ValidationError({"file": _("The file is empty.")}) from None
    except csv.Error as exc:
        raise ValidationError({"file": _("Line 1 cannot be read: %(error)s") % {"error": exc}}) from None
    if not any(header):
        raise ValidationError({"file": _("The first line must name the columns.")})
    rows = []
    limit = max_rows()
    start = reader.line_num + 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((start, cells))
                if len(rows) > limit:
                    raise ValidationError(
                        {"file": _("The file has more than %(limit)s rows; split it.") % {"limit": limit}}
                    )
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(
            {"file": _("Line %(line)s cannot be read: %(error)s") % {"line": start, "error": exc}}
        ) from None
    return header, rows, encoding, delimiter
