"""Run the scheduler tick once, by hand or from cron, without Celery beat.

python manage.py ritual_tick                 # what beat's once-a-minute task does
python manage.py ritual_tick --open-latest   # also open each active ritual's latest past
                                             # occurrence if it has no session yet (a demo,
                                             # or a ritual created just after its meeting)
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from rituals import notifications, occurrences, tick
from rituals.models import Ritual


class Command(BaseCommand):
    help = "Open the due review sessions (once each), log this period's reminders, queue pending notifications."

    def add_arguments(self, parser):
        parser.add_argument(
            "--open-latest",
            action="store_true",
            help="Also open the latest past occurrence of every active ritual that has no session yet.",
        )

    def handle(self, *args, open_latest=False, **options):
        now = timezone.now()
        tick.refresh_schedules(now=now)
        if open_latest:
            for ritual in Ritual.objects.filter(active=True, sessions__isnull=True):
                latest = occurrences.previous_occurrence(ritual, at=now)
                if latest is not None:
                    # Conditional: a tick that already moved this ritual on wins.
                    Ritual.objects.filter(pk=ritual.pk, next_occurrence=ritual.next_occurrence).update(
                        next_occurrence=latest
                    )
        opened = tick.open_due_sessions(now=now)
        queued = notifications.publish(notifications.queue_reminders(now=now))
        queued += notifications.publish(notifications.stale_notification_ids(now=now))
        self.stdout.write(f"opened {len(opened)} session(s), queued {queued} notification(s)")
