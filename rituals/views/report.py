"""The monthly operations report: a printable page and its PDF, for a team or across the visible teams."""

import zoneinfo

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from core.replica import replica_reads
from rituals.forms import MonthlyReportForm
from rituals.report import last_complete_month, monthly_report
from teams.decorators import team_view
from teams.selectors import teams_visible_to

TEMPLATE = "rituals/monthly_report.html"


def _refuse_fetches(url, *args, **kwargs):
    """WeasyPrint fetches nothing: the report carries its style and its charts inline."""
    raise ValueError(f"the report fetches no resource ({url[:80]})")


def pdf_bytes(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_refuse_fetches).write_pdf()


def _render(request, *, teams, tz: str, base_url: str, title: str, across: bool, team=None):
    form = MonthlyReportForm(request.GET or None)
    valid = form.is_valid() if form.is_bound else True
    data = form.cleaned_data if form.is_bound and valid else {}
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(tz)) if tz else timezone.localdate()
    month = data.get("month") or last_complete_month(today)
    language = data.get("lang") or translation.get_language()
    pdf = request.path.endswith(".pdf")
    if pdf and not valid:
        return HttpResponse(render_to_string(TEMPLATE, {"form": form, "invalid": True}, request), status=400)
    with translation.override(language):
        report = monthly_report(teams=teams, month=month, across=across) if valid else None
        query = urlencode({"month": month.strftime("%Y-%m"), "lang": language})
        context = {
            "form": form,
            "invalid": not valid,
            "report": report,
            "team": team,
            "title": title,
            "language": language,
            "pdf_url": f"{base_url}.pdf?{query}",
            "page_url": f"{base_url}/?{query}",
            "other_language": {"code": "en" if language == "fr" else "fr"},
            "other_language_url": f"{base_url}/?"
            + urlencode({"month": month.strftime("%Y-%m"), "lang": "en" if language == "fr" else "fr"}),
            "for_pdf": pdf,
        }
        html = render_to_string(TEMPLATE, context, request)
    if not pdf:
        return HttpResponse(html, status=200 if valid else 400)
    response = HttpResponse(pdf_bytes(html), content_type="application/pdf")
    name = f"opskaizen-{team.slug if team else 'teams'}-{month:%Y-%m}-{language}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@require_GET
@team_view()
@replica_reads
def team_report(request, team):
    """One team's month: ?month=YYYY-MM (default: the last complete month), ?lang=en|fr."""
    base = reverse("rituals:monthly_report", args=[team.slug]).rstrip("/")
    return _render(request, teams=team, tz=team.timezone, base_url=base, title=team.name, across=False, team=team)


@require_GET
@login_required
@replica_reads
def teams_report(request):
    """The month across every team the user may see (their own teams; every team for an observer)."""
    teams = list(teams_visible_to(request.user).order_by("name", "pk"))
    base = reverse("monthly:teams").rstrip("/")
    if not teams:
        return HttpResponse(render_to_string(TEMPLATE, {"no_team": True}, request))
    return _render(request, teams=teams, tz=None, base_url=base, title=None, across=True)
