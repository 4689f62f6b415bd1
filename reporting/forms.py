"""The dashboard's filter: a service of the team and a period, checked by the same rule as the API."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from core.forms import add_service_errors
from reporting import metrics
from reporting.metrics.series import SERIES
from reporting.models import Target
from teams.models import Service


class DashboardFilterForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), required=False, empty_label=_("every service"))
    start = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, team, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.now = team, now
        self.fields["service"].queryset = Service.objects.filter(team=team).order_by("name")
        self.fields["service"].label = _("Service")
        self.scope = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self.scope = metrics.build_scope(
                teams=self.team, service=data.get("service"), start=data.get("start"), end=data.get("end"), now=self.now
            )
        except ValidationError as exc:
            # build_scope names the API's query fields; the page's are start/end.
            renamed = {
                {"from": "start", "to": "end"}.get(field, field): errors for field, errors in exc.error_dict.items()
            }
            add_service_errors(self, ValidationError(renamed))
        return data

    def query(self) -> str:
        """The filter as a query string (empty values left out), for the drill-down links."""
        query = QueryDict(mutable=True)
        for name in ("service", "start", "end"):
            value = self.data.get(name)
            if value:
                query[name] = value
        return query.urlencode()


class TargetForm(forms.Form):
    """A target typed in the figure's reading unit: hours for a duration, % for a rate, a number otherwise."""

    metric = forms.ChoiceField(label=_("Figure"))
    bound = forms.ChoiceField(label=_("The figure should be"), choices=Target.Bound.choices)
    value = forms.FloatField(
        label=_("Target"), min_value=0, help_text=_("Hours for a duration, percent for a rate, a number otherwise.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [(key, label) for key, (_pole, label, *_rest) in SERIES.items()]

    def stored_value(self) -> float:
        """The typed value in the series' own unit (seconds, a ratio, a count)."""
        return to_series_unit(self.cleaned_data["metric"], self.cleaned_data["value"])


def to_series_unit(metric: str, typed: float) -> float:
    unit = SERIES[metric][2]
    if unit == "seconds":
        return typed * 3600
    if unit == "ratio" and metric != "lead_time_spread":
        return typed / 100
    return typed
