"""Register an LMS, list registrations, print the tool's URLs (docs/lti.md).

    manage.py lti_platform urls [--base-url https://pytorch.example.edu]
    manage.py lti_platform add --course pytorch --name Moodle --issuer https://moodle.example.edu \\
        --client-id abc --login-url …/mod/lti/auth.php --token-url …/mod/lti/token.php \\
        --jwks-url …/mod/lti/certs.php --deployment-id 1
    manage.py lti_platform list
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, no_translations
from django.http import Http404

from dashboard.access import get_course
from lti.forms import register
from lti.models import Platform
from lti.views import urls_for


class Command(BaseCommand):
    help = "Register an LMS as an LTI 1.3 platform, list them, or print the tool's URLs."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        urls = sub.add_parser("urls", help="the URLs to give the LMS administrator")
        urls.add_argument("--base-url", default=None, help="default: settings.SITE_URL")
        sub.add_parser("list", help="the registered platforms")
        add = sub.add_parser("add", help="register a platform")
        add.add_argument("--course", required=True, help="course its launches land in")
        add.add_argument("--name", required=True)
        add.add_argument("--issuer", required=True, help="the platform id (iss)")
        add.add_argument("--client-id", required=True)
        add.add_argument("--login-url", required=True, help="OIDC authentication request URL")
        add.add_argument("--token-url", required=True, help="OAuth2 access token URL")
        add.add_argument("--jwks-url", required=True, help="the platform's public keyset URL")
        add.add_argument("--deployment-id", action="append", required=True,
                         help="repeat for several deployments")
        add.add_argument("--audience", default="", help="token audience, if not the token URL")
        add.add_argument("--base-url", default=None, help="default: settings.SITE_URL")

    @no_translations  # messages in English whatever language a caller left active
    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        if action == "list":
            for p in Platform.objects.select_related("course"):
                self.stdout.write(f"{p.pk}\t{p.name}\t{p.issuer}\tclient {p.client_id}\t"
                                  f"deployments {','.join(p.deployment_ids)}\t-> {p.course.slug}")
            return
        if action == "add":
            try:
                course = get_course(opts["course"])
            except Http404:
                raise CommandError(f"There is no course {opts['course']!r}.") from None
            try:
                platform = register({
                    "name": opts["name"], "issuer": opts["issuer"],
                    "client_id": opts["client_id"], "auth_login_url": opts["login_url"],
                    "auth_token_url": opts["token_url"], "key_set_url": opts["jwks_url"],
                    "auth_audience": opts["audience"],
                    "deployment_ids_text": ",".join(opts["deployment_id"]),
                }, course)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Registered {platform} for course {course.slug}.")
        for name, url in urls_for(opts.get("base_url") or settings.SITE_URL).items():
            self.stdout.write(f"{name}:\t{url}")
