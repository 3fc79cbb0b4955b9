"""The LTI 1.3 endpoints an LMS calls (docs/lti.md): OIDC login initiation, the launch, and
the tool's public keys. The login and the launch come from the LMS's pages, so they carry
no CSRF token of ours: the signed id_token, its nonce and the OIDC state protect them
(pylti1p3 checks all three)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.exception import LtiException, OIDCException

from config.security import DEFAULT_CSP
from lti import keys, services, tool

log = logging.getLogger(__name__)

# What the dashboard's LTI page (dashboard/views/lti.py) says; kept here with the app's catalogue.
REGISTERED = gettext_lazy("%(name)s is registered: its launches land in this course.")
NO_PASSBACK = gettext_lazy("There is no such grade passback in this course.")
SENDING_AGAIN = gettext_lazy("The grade of %(user)s is being sent again.")


def refused(request: HttpRequest, message: str, detail: str = "", status: int = 400
            ) -> HttpResponse:
    """A launch that cannot go on: why, in the reader's language, and the library's reason."""
    return render(request, "lti/refused.html", {"message": message, "detail": detail[:300]},
                  status=status)


def _inline_script_csp() -> str:
    """pylti1p3's cookie check page is one HTML page with its script and style inline."""
    policy = {**DEFAULT_CSP, **getattr(settings, "CONTENT_SECURITY_POLICY", {}),
              "script-src": "'unsafe-inline'", "style-src": "'unsafe-inline'"}
    return "; ".join(f"{k} {v}" for k, v in policy.items() if v)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    """Step 1: the LMS names itself (iss, client id) and the user (login_hint); we answer
    with a redirect to its authorisation endpoint carrying a fresh state and nonce."""
    flow = tool.oidc_login(request)
    if request.is_secure():
        # Inside an LMS iframe a browser may refuse our cookies; the page checks, and offers
        # to open the tool in a new tab when it does (HTTPS only: see docs/lti.md).
        flow.enable_check_cookies(
            main_msg=_("Your browser blocks this site's cookies inside the LMS page."),
            click_msg=_("Open it in a new tab."), loading_msg=_("Loading…"))
    try:
        response = flow.redirect(request.build_absolute_uri(reverse("lti:launch")))
    except (OIDCException, LtiException) as exc:
        return refused(request, _("The LMS login request was refused."), str(exc))
    if response.status_code == 200:  # the cookie check page
        response["Content-Security-Policy"] = _inline_script_csp()
    return response


@csrf_exempt
@never_cache
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """Step 2: the LMS posts the signed id_token; a valid resource-link launch logs the user
    in, with the role the LMS gives them in the mapped course, and opens the lesson."""
    try:
        flow = tool.message_launch(request)
        claims = flow.get_launch_data()  # validates everything, once
    except (LtiException, OIDCException) as exc:
        reason = str(exc)
        log.info("LTI launch refused: %s", reason)
        if "State not found" in reason or ("Missing" in reason and "cookie" in reason):
            message = _("The launch could not be matched to its login (the browser sent "
                        "no state cookie). Open the tool in a new window, or serve the site "
                        "over HTTPS (see docs/lti.md).")
        elif "Nonce" in reason or "nonce" in reason:
            message = _("This launch was already used or has expired. Open the link in the "
                        "LMS again.")
        elif "Registration not found" in reason or "registration" in reason.lower():
            message = _("This LMS is not registered with this site. An instructor can "
                        "register it on the dashboard's LTI page.")
        elif "decode" in reason or "public key" in reason or "KID" in reason:
            message = _("The launch's signature does not match the LMS's published keys.")
        elif "deployment" in reason:
            message = _("This deployment of the tool is not registered for the LMS.")
        else:
            message = _("The LMS launch was refused.")
        return refused(request, message, reason)
    if not flow.is_resource_launch():
        return refused(request, _("Only resource-link launches are supported."))
    platform = tool.find_platform(flow.get_iss(), flow.get_client_id())
    if platform is None:  # validated a moment ago; removed since
        return refused(request, _("This LMS is not registered with this site."))
    try:
        landing = services.complete_launch(platform, dict(claims))
    except services.LaunchRefused as exc:
        return refused(request, str(exc), status=403)
    login(request, landing.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(landing.url)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys: the LMS checks our AGS token requests with them."""
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


def tool_urls(request: HttpRequest) -> dict[str, str]:
    """What an LMS administrator types in (the dashboard and `manage.py lti_platform`)."""
    base = request.build_absolute_uri("/").rstrip("/")
    return urls_for(base)


def urls_for(base: str) -> dict[str, str]:
    base = base.rstrip("/")
    return {
        "login": base + reverse("lti:login"),
        "launch": base + reverse("lti:launch"),
        "jwks": base + reverse("lti:jwks"),
    }

