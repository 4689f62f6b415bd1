"""Delete the webhook logs past their retention, for installs that run cron instead of Celery beat.

python manage.py prune_deliveries                    # until nothing is left to delete
python manage.py prune_deliveries --max-batches 50   # at most 50 batches per log in this run

What is deleted and when: teams/retention.py (WEBHOOK_RETENTION_DAYS, default 30 days;
Idempotency-Key records after 24 hours; pending outgoing deliveries never).
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.retention import prune_deliveries


class Command(BaseCommand):
    help = (
        "Delete incoming and finished outgoing webhook deliveries past WEBHOOK_RETENTION_DAYS, "
        "and expired Idempotency-Keys."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=settings.WEBHOOK_PRUNE_BATCH_SIZE,
            help="Rows deleted per statement (default: WEBHOOK_PRUNE_BATCH_SIZE).",
        )
        parser.add_argument("--max-batches", type=int, default=None, help="At most this many batches per log.")

    def handle(self, *args, batch_size, max_batches, **options):
        counts = prune_deliveries(batch_size=max(batch_size, 1), max_batches=max_batches)
        self.stdout.write(
            f"deleted {counts.get('incoming', 0)} incoming delivery(ies), {counts.get('outgoing', 0)} outgoing "
            f"delivery(ies), {counts['idempotency_keys']} idempotency key(s)"
        )
