from django.core.management.base import BaseCommand, CommandError

from teams.backup import export_team
from teams.models import Team


class Command(BaseCommand):
    help = "Write one team's data as JSON (to stdout, or to --output)."

    def add_arguments(self, parser):
        parser.add_argument("team", help="team slug")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, team, output, **options):
        try:
            team_obj = Team.objects.get(slug=team)
        except Team.DoesNotExist as exc:
            raise CommandError(f"No team with slug {team!r}.") from exc
        data = export_team(team_obj)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(data)
            self.stderr.write(f"Exported {team_obj} to {output}.")
        else:
            self.stdout.write(data)
