"""Seed a realistic, deterministic demo: three teams and six months of operations (rituals.demo)."""

import datetime as dt
import random

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from rituals.demo import Seeder
from rituals.demo_data import PASSWORD, TEAMS, USERS
from teams.models import Team


class Command(BaseCommand):
    help = "Create demo teams, users and six months of incidents, changes and PDCA actions."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same day → same data)")
        parser.add_argument("--weeks", type=int, default=26, help="weeks of history to generate")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="last day of history (ISO date)")
        parser.add_argument("--reset", action="store_true", help="delete the demo teams first")

    def handle(self, *args, seed, weeks, today, reset, **options):
        slugs = [t["slug"] for t in TEAMS]
        if reset:
            Team.objects.filter(slug__in=slugs).delete()
        if Team.objects.filter(slug__in=slugs).exists():
            self.stdout.write("Demo data already present (use --reset to rebuild it).")
        else:
            # History ends at the start of `today` (UTC): the same seed on the same day gives the same data.
            today = today or timezone.now().date()
            now = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)
            with transaction.atomic():
                Seeder(random.Random(seed), now, weeks).run()
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        self.print_logins()

    def print_logins(self):
        self.stdout.write(f"\nDemo logins (password for all: {PASSWORD}):")
        self.stdout.write("  admin   — superuser, Django admin at /admin/")
        for username, _name, roles in USERS:
            where = ", ".join(f"{role} of {slug}" for slug, role in roles.items())
            self.stdout.write(f"  {username:<7} — {where}")
