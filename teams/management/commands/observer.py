"""Grant or withdraw the organisation observer role (read-only over all teams), as a named superuser."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from teams import services


class Command(BaseCommand):
    help = "observer grant|withdraw <username> --by <superuser>: the read-only role over all teams (audited)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["grant", "withdraw"])
        parser.add_argument("username")
        parser.add_argument("--by", required=True, help="the superuser doing it (named in the audit log)")

    def handle(self, *args, action, username, by, **options):
        User = get_user_model()
        user = User.objects.filter(username=username, is_active=True).first()
        superuser = User.objects.filter(username=by, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if superuser is None:
            raise CommandError(f"No active user {by!r}.")
        try:
            if action == "grant":
                services.grant_observer(user=user, by=superuser)
                self.stdout.write(f"{username} is now an observer of all teams.")
            else:
                services.withdraw_observer(user=user, by=superuser)
                self.stdout.write(f"{username} is no longer an observer.")
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
