"""Print the OIDC_* settings of an OpenID provider from its discovery document, ready for the environment."""

import requests
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Read <issuer>/.well-known/openid-configuration and print the OIDC_* environment lines."

    def add_arguments(self, parser):
        parser.add_argument("issuer", help="the provider's issuer URL, e.g. https://id.example.com/realms/ops")

    def handle(self, *args, issuer, **options):
        issuer = issuer.rstrip("/")
        try:
            response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise CommandError(f"No discovery document at {issuer}: {error}") from None
        if document.get("issuer", "").rstrip("/") != issuer:
            raise CommandError(f"The document names another issuer: {document.get('issuer')!r}")
        lines = {
            "OIDC_ISSUER": document["issuer"],
            "OIDC_AUTHORIZATION_ENDPOINT": document["authorization_endpoint"],
            "OIDC_TOKEN_ENDPOINT": document["token_endpoint"],
            "OIDC_USERINFO_ENDPOINT": document.get("userinfo_endpoint", ""),
            "OIDC_JWKS_ENDPOINT": document["jwks_uri"],
        }
        for name, value in lines.items():
            self.stdout.write(f"{name}={value}")
