"""pylti1p3 configured from the database: registrations are `Platform` rows, the key is
`ToolKey`; state and nonce live in the shared `lti` cache (Redis), so any web process can
finish a launch another began. A nonce works once."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.launch_data_storage.cache import DjangoCacheDataStorage
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.contrib.django.session import DjangoSessionService
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import DisableSessionId
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from lti.keys import current_key, public_pem
from lti.models import Platform

CACHE = "lti"
NONCE_SECONDS = 600


def registration_of(platform: Platform) -> Registration:
    key = current_key()
    reg = Registration()
    reg.set_issuer(platform.issuer)
    reg.set_client_id(platform.client_id)
    reg.set_auth_login_url(platform.auth_login_url)
    reg.set_auth_token_url(platform.auth_token_url)
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    reg.set_key_set_url(platform.key_set_url)
    reg.set_tool_private_key(key.private_key_pem)
    reg.set_tool_public_key(public_pem(key))
    return reg


def find_platform(iss: str, client_id: str | None) -> Platform | None:
    rows = Platform.objects.filter(issuer=iss)
    if client_id:
        return rows.filter(client_id=client_id).first()
    # Some LMSs leave client_id out of the login request: fine while it is unambiguous.
    found = list(rows[:2])
    return found[0] if len(found) == 1 else None


class ToolConf(ToolConfAbstract):
    """Every issuer may have several client ids (one per registration)."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        platform = find_platform(iss, None)
        return registration_of(platform) if platform else None

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any,
                                    **kwargs: Any) -> Any:
        platform = find_platform(iss, client_id)
        return registration_of(platform) if platform else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str,
                                  *args: Any, **kwargs: Any) -> Deployment | None:
        platform = find_platform(iss, client_id or None)
        if platform is None or deployment_id not in (platform.deployment_ids or []):
            return None
        return Deployment().set_deployment_id(deployment_id)


class OneTimeNonceSessionService(DjangoSessionService):
    """pylti1p3 only checks that a nonce was issued; here it is also used up (no replay)."""

    def check_nonce(self, nonce: str) -> bool:
        ok = super().check_nonce(nonce)
        if ok:
            self.data_storage.set_value(self._get_key("nonce", nonce), None, exp=1)
        return ok


class MessageLaunch(DjangoMessageLaunch):
    """The platform's JWKS is cached a few minutes; a `kid` not in the cached set (the LMS
    rotated its keys) fetches it again, once."""

    _refetched = False

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException as exc:
            reg, cache = self._registration, self._public_key_cache_data_storage
            url = reg.get_key_set_url() if reg else None
            if (self._refetched or reg is None or cache is None or not url
                    or "Unable to find public key" not in str(exc)):
                raise
            self._refetched = True
            key = "key-set-url-" + hashlib.md5(url.encode()).hexdigest()
            with DisableSessionId(cache):
                cache.set_value(key, None, 1)
            reg.set_key_set(None)
            return super().get_public_key()


def storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name=CACHE)


def oidc_login(request: HttpRequest) -> DjangoOIDCLogin:
    login = DjangoOIDCLogin(request, ToolConf())
    login.set_launch_data_storage(storage())
    login.set_launch_data_lifetime(NONCE_SECONDS)
    return login


def message_launch(request: HttpRequest) -> MessageLaunch:
    req = DjangoRequest(request, post_only=True)
    launch = MessageLaunch(
        req, ToolConf(), session_service=OneTimeNonceSessionService(req),
        launch_data_storage=storage(),
    )
    launch.set_launch_data_lifetime(NONCE_SECONDS)  # nothing reads it back later
    launch.set_public_key_caching(storage(), cache_lifetime=300)
    return launch
