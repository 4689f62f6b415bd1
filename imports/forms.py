"""The lead's import forms: the upload, and the lines of a value mapping ("word = value")."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imports import csvfile
from imports.models import Kind


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=Kind.choices)
    source = forms.CharField(
        label=gettext_lazy("Source"),
        max_length=40,
        help_text=gettext_lazy("jira, servicenow, spreadsheet…: the mapping is remembered per source."),
    )
    file = forms.FileField(label=gettext_lazy("CSV file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            csvfile.check_size(upload.size)  # before reading a byte of it
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["file"]) from None
        return upload


def parse_pairs(text: str) -> dict[str, str]:
    """{"word": "value"} from lines "word = value"; blank lines skipped; "word =" maps to nothing."""
    pairs = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        word, sep, value = line.partition("=")
        if not sep or not word.strip():
            raise forms.ValidationError(_("Line %(n)s: write “word = value”.") % {"n": number})
        pairs[word.strip()] = value.strip()
    return pairs


def format_pairs(pairs: dict) -> str:
    return "\n".join(f"{word} = {value}" for word, value in pairs.items())
