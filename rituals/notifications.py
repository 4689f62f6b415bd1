"""Reminders and ritual notifications: what to send, to whom, once; and sending it (email, chat webhook).

Every message is first a ``Notification`` row (the log of what was sent), created in the
transaction that decided it; a Celery task then delivers it. The unique constraint on
(kind, channel, object_id, period, recipient) makes a reminder go out once per item and period
(the ISO week, in the team's time zone), however many ticks run; ``deliver`` claims a row with
a conditional UPDATE, so two copies of the task never send it twice. A row whose task was lost
(Redis down when it was queued, a worker gone) is queued again by the tick.

Chat: a Slack / Mattermost / Microsoft Teams "incoming webhook" URL on the ritual; the body is
``{"text": "..."}``, which all three accept.
"""

import datetime as dt
import http.client
import json
import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from core import egress
from core.tasks import enqueue
from improvement.models import OPEN_STAGES, Action
from incidents.models import Postmortem
from rituals.models import Notification, ReviewSession, Ritual
from teams.models import Team

logger = logging.getLogger(__name__)

# A claim older than this is from a worker that died mid-send: the row may be sent again.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)
# A pending row not picked up within this delay was probably never queued (broker down).
REQUEUE_AFTER = dt.timedelta(minutes=2)


class RetryLater(Exception):
    """A transient delivery failure: the task retries with backoff."""

    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


def max_attempts() -> int:
    return getattr(settings, "OPSKAIZEN_NOTIFICATION_MAX_ATTEMPTS", 6)


def backoff_seconds(attempts: int) -> int:
    """30 s, 60 s, 2 min, 4 min, 8 min, then 10 min (below CLAIM_TIMEOUT, so the tick does not race it)."""
    return min(30 * 2 ** max(attempts - 1, 0), 600)


# --- deciding what to send ------------------------------------------------------------------


def _create(**fields) -> int | None:
    """Insert one notification; None when the same (kind, channel, object, period, recipient) exists."""
    fields["subject"] = Truncator(fields["subject"]).chars(Notification._meta.get_field("subject").max_length)
    try:
        with transaction.atomic():
            return Notification.objects.create(**fields).pk
    except IntegrityError:
        return None


def _local_label(instant: dt.datetime, tz_name: str) -> str:
    import zoneinfo

    return instant.astimezone(zoneinfo.ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


def session_message(session: ReviewSession) -> tuple[str, str]:
    """Subject and text announcing an opened session, from its frozen agenda."""
    ritual = session.ritual
    agenda = session.agenda or {}
    counts = agenda.get("counts", {})
    with translation.override(session.team.language):
        subject = _("%(ritual)s opened — %(when)s") % {
            "ritual": ritual.name,
            "when": _local_label(session.occurrence, ritual.timezone),
        }
        labels = {
            "incident": _("incidents since the last session"),
            "postmortem": _("postmortems not published"),
            "action_overdue": _("actions overdue"),
            "action_stale": _("actions stale"),
            "action_check_due": _("actions whose observation window has ended"),
            "recurrence": _("recurrences"),
            "metric_signal": _("metric signals"),
            # Sections of a version 2 agenda.
            "carried_over": _("carried over from the previous session"),
            "signals": _("recurrences and signals"),
            "checks": _("Check results to decide"),
            "incidents": _("new SEV1–SEV2 incidents"),
            "overdue": _("overdue work"),
            "other": _("the rest"),
            "if_time_allows": _("if time allows"),
        }
        lines = [subject, ""]
        lines += [f"- {labels.get(kind, kind)}: {n}" for kind, n in counts.items() if n]
        if not any(counts.values()):
            lines.append(_("Nothing on the agenda: a short meeting."))
        items = agenda.get("items", [])
        if items:
            lines += ["", _("Agenda:")]
            group = "section" if agenda.get("version", 1) >= 2 else "kind"
            lines += [f"- [{labels.get(i.get(group), i.get(group))}] {i['title']}" for i in items[:25]]
            if len(items) > 25:
                lines.append(_("… and %(n)s more.") % {"n": len(items) - 25})
    return subject, "\n".join(lines)


def queue_session_opened(*, session: ReviewSession) -> list[int]:
    """Log the announcements of an opened session (email to attendees, chat); returns the new rows' ids."""
    subject, body = session_message(session)
    people = session.ritual.attendees.exclude(email="")
    return _queue_to(session, Notification.Kind.SESSION_OPENED, people, subject, body)


def _queue_to(session: ReviewSession, kind: str, people, subject: str, body: str) -> list[int]:
    """One row per person (email, when the ritual notifies by email) and one for the ritual's chat."""
    ritual: Ritual = session.ritual
    common = {"team_id": session.team_id, "kind": kind, "object_id": session.pk, "subject": subject, "body": body}
    ids = []
    if ritual.notify_email:
        for user in people:
            ids.append(_create(**common, channel=Notification.Channel.EMAIL, recipient=user.email, user=user))
    if ritual.chat_webhook_url:
        ids.append(_create(**common, channel=Notification.Channel.CHAT, recipient=ritual.chat_webhook_url))
    return [pk for pk in ids if pk]


def queue_session_summary(*, session: ReviewSession) -> list[int]:
    """Log the closed session's summary for its attendees (email) and the ritual's chat; the new rows' ids.

    Once per session and recipient (the notification's unique constraint): a session closes once,
    and a second call, a retried task or a replayed close creates nothing.
    """
    ritual: Ritual = session.ritual
    with translation.override(session.team.language):
        subject = _("%(ritual)s — summary of %(when)s") % {
            "ritual": ritual.name,
            "when": _local_label(session.occurrence, ritual.timezone),
        }
    # Who attended; a session whose attendance nobody took goes to the ritual's invitees.
    people = list(session.attendees.exclude(email="")) or list(ritual.attendees.exclude(email=""))
    return _queue_to(session, Notification.Kind.SESSION_SUMMARY, people, subject, session.summary)


def reminder_period(instant: dt.datetime, team: Team) -> str:
    """The reminder period containing `instant`: the ISO week in the team's time zone (e.g. 2026-W48)."""
    year, week, _day = instant.astimezone(team.tzinfo).isocalendar()
    return f"{year}-W{week:02d}"


def _reminders_for_team(team: Team, now: dt.datetime) -> list[dict]:
    today = now.astimezone(team.tzinfo).date()
    horizon = today + dt.timedelta(days=getattr(settings, "OPSKAIZEN_REMINDER_DAYS_AHEAD", 3))
    wanted = []
    actions = (
        Action.objects.filter(team=team, stage__in=OPEN_STAGES, due_date__lte=horizon, owner__isnull=False)
        .exclude(owner__email="")
        .select_related("owner")
        .order_by("due_date", "pk")
    )
    for action in actions:
        overdue = action.due_date < today
        template = _("Action overdue since %(date)s: %(title)s") if overdue else _("Action due on %(date)s: %(title)s")
        subject = template % {"date": action.due_date.isoformat(), "title": action.title}
        body = _(
            "%(subject)s\n\nTeam: %(team)s\nStage: %(stage)s\n\nMove it on, change its due date, or bring it "
            "to the next review board."
        ) % {"subject": subject, "team": team.name, "stage": action.get_stage_display()}
        kind = Notification.Kind.ACTION_OVERDUE if overdue else Notification.Kind.ACTION_DUE_SOON
        wanted.append({"kind": kind, "object_id": action.pk, "user": action.owner, "subject": subject, "body": body})
    drafts = (
        Postmortem.objects.filter(team=team, status=Postmortem.Status.DRAFT, author__isnull=False)
        .exclude(author__email="")
        .select_related("author", "incident")
        .order_by("created_at", "pk")
    )
    for postmortem in drafts:
        subject = _("Postmortem still in draft: %(title)s") % {"title": postmortem.incident.title}
        body = _("%(subject)s\n\nTeam: %(team)s\n\nFinish it and send it for review.") % {
            "subject": subject,
            "team": team.name,
        }
        wanted.append(
            {
                "kind": Notification.Kind.POSTMORTEM_DRAFT,
                "object_id": postmortem.pk,
                "user": postmortem.author,
                "subject": subject,
                "body": body,
            }
        )
    return wanted


def queue_reminders(*, now: dt.datetime | None = None) -> list[int]:
    """Log this period's reminders not logged yet (teams running rituals, from the reminder hour on).

    Owners of actions due within OPSKAIZEN_REMINDER_DAYS_AHEAD days or overdue, and authors of
    draft postmortems, get one email per item and ISO week. Returns the new rows' ids.
    """
    now = now or timezone.now()
    hour = getattr(settings, "OPSKAIZEN_REMINDER_HOUR", 9)
    created: list[int] = []
    with translation.override(settings.LANGUAGE_CODE):
        for team in Team.objects.filter(rituals__active=True).distinct():
            if now.astimezone(team.tzinfo).hour < hour:
                continue
            try:
                created += _queue_team_reminders(team, now)
            except Exception:
                # One team's bad data must not stop the others' reminders; retried next tick.
                logger.exception("reminders: failed for team %s", team.pk)
    return created


def _queue_team_reminders(team: Team, now: dt.datetime) -> list[int]:
    period = reminder_period(now, team)
    wanted = _reminders_for_team(team, now)
    if not wanted:
        return []
    done = set(
        Notification.objects.filter(
            team=team, period=period, channel=Notification.Channel.EMAIL, kind__in=[w["kind"] for w in wanted]
        ).values_list("kind", "object_id", "recipient")
    )
    created = []
    for w in wanted:
        if (w["kind"], w["object_id"], w["user"].email) in done:
            continue
        pk = _create(team=team, channel=Notification.Channel.EMAIL, period=period, recipient=w["user"].email, **w)
        if pk:
            created.append(pk)
    return created


def stale_notification_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Rows whose delivery task was probably lost (never queued, or its worker died mid-send)."""
    now = now or timezone.now()
    pending = Q(status=Notification.Status.PENDING) & (
        Q(claimed_at__isnull=True, created_at__lt=now - REQUEUE_AFTER) | Q(claimed_at__lt=now - CLAIM_TIMEOUT)
    )
    dead = Q(status=Notification.Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT)
    return list(Notification.objects.filter(pending | dead).order_by("pk").values_list("pk", flat=True)[:500])


def publish(ids: list[int]) -> int:
    """Queue a delivery task per notification id; returns how many were queued (0 with the broker down)."""
    queued = 0
    for pk in ids:
        if not enqueue("improvement.send_notification", pk):
            break  # the broker is down: the tick queues them again once it is back
        queued += 1
    return queued


# --- sending --------------------------------------------------------------------------------


def _claim(notification_id: int, now: dt.datetime) -> bool:
    claimable = Q(status=Notification.Status.PENDING) | Q(
        status=Notification.Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT
    )
    return bool(
        Notification.objects.filter(claimable, pk=notification_id).update(
            status=Notification.Status.SENDING, claimed_at=now
        )
    )


class _Permanent(Exception):
    pass


def _post_chat(url: str, text: str) -> None:
    """POST {"text": ...} to an incoming webhook; the URL is checked again (core.egress), redirects not followed."""
    timeout = getattr(settings, "OPSKAIZEN_CHAT_TIMEOUT", 10)
    try:
        answer = egress.post(
            url,
            body=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "OpsKaizen"},
            timeout=timeout,
        )
    except egress.UnsafeURL as exc:
        raise _Permanent(f"refused: {exc.reason}") from exc
    except http.client.HTTPException as exc:
        raise OSError(f"chat webhook: {exc or type(exc).__name__}") from exc
    if answer.ok:
        return
    if answer.status == 429 or answer.status >= 500:
        raise OSError(f"chat webhook answered {answer.describe()}")
    raise _Permanent(f"chat webhook answered {answer.describe()}")


def deliver(notification_id: int, *, now: dt.datetime | None = None) -> str:
    """Send one notification if nobody else is sending it; returns its status afterwards.

    Raises RetryLater on a transient failure (the row is back to pending, its attempts counted);
    after OPSKAIZEN_NOTIFICATION_MAX_ATTEMPTS the row is marked failed instead.
    """
    now = now or timezone.now()
    if not _claim(notification_id, now):
        return Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first() or "missing"
    notification = Notification.objects.get(pk=notification_id)
    try:
        if notification.channel == Notification.Channel.EMAIL:
            send_mail(notification.subject, notification.body, settings.DEFAULT_FROM_EMAIL, [notification.recipient])
        else:
            _post_chat(notification.recipient, notification.body)
    except (_Permanent, OSError, smtplib.SMTPException) as exc:
        attempts = notification.attempts + 1
        permanent = isinstance(exc, _Permanent) or attempts >= max_attempts()
        status = Notification.Status.FAILED if permanent else Notification.Status.PENDING
        Notification.objects.filter(pk=notification_id).update(status=status, attempts=attempts, last_error=str(exc))
        logger.warning("notification %s: attempt %s failed: %s", notification_id, attempts, exc)
        if permanent:
            return status
        raise RetryLater(str(exc), attempts) from exc
    Notification.objects.filter(pk=notification_id).update(
        status=Notification.Status.SENT, attempts=notification.attempts + 1, sent_at=timezone.now(), last_error=""
    )
    return Notification.Status.SENT
