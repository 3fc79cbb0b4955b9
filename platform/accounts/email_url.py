"""`EMAIL_URL` → Django e-mail settings (plain Python: settings.py imports it).

    smtp://user:password@host:587          SMTP with STARTTLS (587 is the submission port)
    smtp+tls://user:password@host:587      the same, said explicitly
    smtps://user:password@host:465         SMTP over TLS from the first byte
    smtp+plain://host:25                   no encryption (a relay on the same machine)
    console:                               print each message on the server's console
    file:///path/to/folder                 one file per message in that folder

User and password are percent-decoded (an `@` in a password is `%40`). Unset or empty: the
file backend into the folder the caller names (var/mail).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
FILE = "django.core.mail.backends.filebased.EmailBackend"


def email_settings(url: str, default_folder: Path) -> dict[str, Any]:
    """The EMAIL_* settings for `url`; raises ValueError (with the reason) for a bad one."""
    url = url.strip()
    if not url:
        return {"EMAIL_BACKEND": FILE, "EMAIL_FILE_PATH": str(default_folder)}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": CONSOLE}
    if scheme == "file":
        return {"EMAIL_BACKEND": FILE, "EMAIL_FILE_PATH": unquote(parts.path) or
                str(default_folder)}
    modes = {"smtp": "starttls", "smtp+tls": "starttls", "smtps": "ssl", "smtp+plain": "plain"}
    if scheme not in modes:
        raise ValueError(
            f"EMAIL_URL: unknown scheme {parts.scheme!r} (use smtp, smtps, smtp+tls, "
            "smtp+plain, console or file)"
        )
    if not parts.hostname:
        raise ValueError("EMAIL_URL: no host (e.g. smtp://user:password@mail.example.org:587)")
    mode = modes[scheme]
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"EMAIL_URL: bad port ({exc})") from None
    return {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if mode == "ssl" else 587 if mode == "starttls" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": mode == "starttls",
        "EMAIL_USE_SSL": mode == "ssl",
        "EMAIL_TIMEOUT": 20,
    }
