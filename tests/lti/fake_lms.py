"""A test LMS: an RSA key pair made in the test, its JWKS, signed id_tokens, and an HTTP
server (a thread) that serves the JWKS and records the AGS token request and score POSTs.
Imported by tests/lti and tests/browser/test_lti_browser.py."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = MEMBERSHIP + "Learner"
INSTRUCTOR = MEMBERSHIP + "Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score"]


def new_key() -> tuple[str, dict[str, Any]]:
    """(private PEM, public JWK with kid and alg)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update({"alg": "RS256", "use": "sig"})
    return pem, public


@dataclass
class FakeLMS:
    client_id: str = "tool-client-1"
    deployment_id: str = "deploy-1"
    pem: str = ""
    jwk: dict[str, Any] = field(default_factory=dict)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    score_auth: list[str] = field(default_factory=list)
    fail_scores: int = 0  # answer this many score POSTs with HTTP 500
    launch_claims: dict[str, Any] = field(default_factory=dict)  # for the /auth page
    line_items: list[dict[str, Any]] = field(default_factory=list)  # made by the tool
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.pem, self.jwk = new_key()

    # ------------------------------------------------------------------ the HTTP side
    def start(self) -> FakeLMS:
        lms = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, ctype: str = "application/json") -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/jwks":
                    self._answer(200, {"keys": [lms.jwk]})
                elif self.path == "/lineitems":
                    self._answer(200, lms.line_items,
                                 "application/vnd.ims.lis.v2.lineitemcontainer+json")
                elif self.path.startswith("/auth?"):
                    # The OIDC authorisation endpoint, as an LMS answers it: the signed
                    # id_token (claims from `launch_claims`) posted back to the tool.
                    query = parse_qs(urlparse(self.path).query)
                    token = lms.id_token(query["nonce"][0], **lms.launch_claims)
                    page = (
                        f'<form method="post" action="{escape(query["redirect_uri"][0])}">'
                        f'<input type="hidden" name="id_token" value="{escape(token)}">'
                        f'<input type="hidden" name="state" value="{escape(query["state"][0])}">'
                        "</form><script>document.forms[0].submit()</script>"
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path == "/token":
                    lms.token_requests.append(parse_qs(body))
                    self._answer(200, {"access_token": "token-" + uuid.uuid4().hex,
                                       "token_type": "Bearer", "expires_in": 3600})
                elif self.path == "/lineitems":  # a tool creates a line item
                    item = {**json.loads(body),
                            "id": f"{lms.base}/lineitems/{100 + len(lms.line_items)}"}
                    lms.line_items.append(item)
                    self._answer(201, item, "application/vnd.ims.lis.v2.lineitem+json")
                elif self.path.startswith("/lineitems/") and self.path.endswith("/scores"):
                    if lms.fail_scores > 0:
                        lms.fail_scores -= 1
                        self._answer(500, {"error": "the LMS is down"})
                        return
                    lms.scores.append({"path": self.path, **json.loads(body),
                                       "content_type": self.headers.get("Content-Type")})
                    lms.score_auth.append(self.headers.get("Authorization") or "")
                    self._answer(200, {})
                else:
                    self._answer(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base  # an LMS's issuer is its address

    def register(self, course: Any) -> Any:
        """The Platform row an instructor would make for this LMS."""
        from lti.models import Platform

        return Platform.objects.create(
            name="Test LMS", issuer=self.issuer, client_id=self.client_id,
            auth_login_url=self.base + "/auth", auth_token_url=self.base + "/token",
            key_set_url=self.base + "/jwks", deployment_ids=[self.deployment_id], course=course,
        )

    # ------------------------------------------------------------------ the tokens
    def id_token(self, nonce: str, *, sub: str = "lms-user-1", roles: list[str] | None = None,
                 context_id: str = "course-101", link_id: str = "link-1",
                 custom: dict[str, str] | None = None, ags: bool = True, pem: str = "",
                 kid: str = "", lineitem: str | None = "/lineitems/7", **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300,
            "nonce": nonce, "name": "Lin Wei", "given_name": "Lin", "family_name": "Wei",
            "email": "lin@example.edu",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "version": "1.3.0",
            CLAIM + "roles": roles if roles is not None else [LEARNER],
            CLAIM + "context": {"id": context_id, "title": "Deep Learning 101"},
            CLAIM + "resource_link": {"id": link_id, "title": "Tensors"},
            CLAIM + "target_link_uri": "http://testserver/lti/launch/",
            CLAIM + "custom": custom or {},
            **extra,
        }
        if ags:
            claims[AGS] = {"scope": SCOPES, "lineitems": self.base + "/lineitems"}
            if lineitem is not None:  # None: an ungraded link, the tool may make a column
                claims[AGS]["lineitem"] = self.base + lineitem
        return jwt.encode(claims, pem or self.pem, algorithm="RS256",
                          headers={"kid": kid or self.jwk["kid"]})


def login_params(lms: FakeLMS, **extra: str) -> dict[str, str]:
    return {"iss": lms.issuer, "login_hint": "hint-1", "client_id": lms.client_id,
            "target_link_uri": "http://testserver/lti/launch/", "lti_message_hint": "m-1",
            **extra}


def state_and_nonce(location: str) -> tuple[str, str]:
    query = parse_qs(urlparse(location).query)
    return query["state"][0], query["nonce"][0]


def begin(client, lms: FakeLMS, **extra: str) -> tuple[str, str]:
    """OIDC login initiation; returns the (state, nonce) the tool sent to the LMS."""
    response = client.get("/lti/login/", login_params(lms, **extra))
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(lms.base + "/auth?")
    return state_and_nonce(response["Location"])


def launch(client, lms: FakeLMS, **claims):
    """A full launch: login initiation, then the signed id_token posted back."""
    state, nonce = begin(client, lms)
    return client.post("/lti/launch/", {"id_token": lms.id_token(nonce, **claims),
                                        "state": state})
