from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from teams.backup import import_team


class Command(BaseCommand):
    help = "Load a team exported by export_team into this instance (which must not have it yet)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file written by export_team")

    def handle(self, *args, file, **options):
        with open(file, encoding="utf-8") as handle:
            data = handle.read()
        try:
            team = import_team(data)
        except ValidationError as exc:
            raise CommandError("; ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {team}."))
