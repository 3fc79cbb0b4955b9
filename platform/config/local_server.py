"""What `make run` needs to serve a class from one machine with DEBUG off (scripts/run.sh).

    python platform/config/local_server.py env VAR_DIR   # shell `export` lines
    python platform/config/local_server.py urls PORT     # the addresses for the banner

Plain Python (no Django): it runs before the settings may load, and its output is what lets
them load (config.security.production_problems). A variable already in the environment wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import secrets
import shlex
import socket
import struct
import sys
from pathlib import Path

SECRET_KEY_FILE = "secret_key"
LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]


def secret_key(var_dir: Path) -> str:
    """The key in var_dir/secret_key, made on the first call (mode 0600) and kept after.

    Kept, not made per start: a new key would log every student out and void every
    password-reset link at each restart.
    """
    path = Path(var_dir) / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        key = path.read_text().strip()
        if len(key) >= 32:
            os.chmod(path, 0o600)  # an older copy may have been made readable by others
            return key
    key = secrets.token_urlsafe(50)
    # O_EXCL on a temporary name, then rename: never a moment where others can read it,
    # and two starts at once end with one key.
    tmp = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    os.replace(tmp, path)
    return key


def _interface_addresses() -> list[str]:
    """IPv4 addresses of this machine's network interfaces (Linux ioctl; [] elsewhere)."""
    found: list[str] = []
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                packed = fcntl.ioctl(
                    sock.fileno(), siocgifaddr, struct.pack("256s", name[:15].encode())
                )
                found.append(socket.inet_ntoa(packed[20:24]))
    return found


def _routed_address() -> str | None:
    """The address other machines reach us on: the source of the default route (no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: routed, never answered
            return sock.getsockname()[0]
        except OSError:
            return None


def lan_hosts() -> list[str]:
    """Loopback, this host's names, and its addresses: what a student on the LAN may type."""
    names: list[str] = []
    with contextlib.suppress(OSError):
        hostname = socket.gethostname()
        names += [hostname, socket.getfqdn(hostname)]
        names += socket.gethostbyname_ex(hostname)[2]
    with contextlib.suppress(OSError):
        names += _interface_addresses()
    routed = _routed_address()
    if routed:
        names.append(routed)
    hosts: list[str] = []
    for name in [*LOOPBACK, *names]:
        name = name.strip().lower()
        if not name or name in hosts or (name.startswith("127.") and name != "127.0.0.1"):
            continue  # Debian maps the hostname to 127.0.1.1: nobody types that
        hosts.append(name)
    return hosts


def banner_urls(hosts: list[str], port: int) -> list[str]:
    """One URL per address a student can type: LAN addresses first, then names, loopback last."""

    def rank(host: str) -> tuple[int, str]:
        bare = host.strip("[]")
        try:
            ip = ipaddress.ip_address(bare)
        except ValueError:
            return (2 if host == "localhost" else 1, host)
        return (3 if ip.is_loopback else 0, host)

    return [f"http://{host}:{port}/" for host in sorted(hosts, key=rank)
            if not host.startswith(".") and "*" not in host]  # patterns, not hosts


def classroom_env(var_dir: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables `make run` sets unless given: DEBUG off, with what that requires."""
    environ = dict(os.environ if environ is None else environ)
    defaults = {
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": ",".join(lan_hosts()),
        "DATABASE_URL": f"sqlite:///{Path(var_dir).resolve() / 'db.sqlite3'}",
        "DJANGO_ALLOW_SQLITE": "1",  # one machine: SQLite in WAL mode is enough for a class
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        # Plain HTTP on a LAN: cookies marked Secure would never come back, so nobody could
        # log in. Behind a TLS proxy set DJANGO_SECURE_COOKIES=1 (docs/deploy.md).
        "DJANGO_SECURE_COOKIES": "0",
        # Each web thread keeps its SQLite connection: opening one per request doubled the
        # cost of a verdict poll (measured; docs/deploy.md, "One machine").
        "SQLITE_CONN_MAX_AGE": "60",
    }
    out = {name: environ.get(name) or value for name, value in defaults.items()}
    out["DJANGO_SECRET_KEY"] = environ.get("DJANGO_SECRET_KEY") or secret_key(var_dir)
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "env":
        for name, value in classroom_env(Path(argv[1])).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if len(argv) == 2 and argv[0] == "urls":
        hosts = os.environ.get("DJANGO_ALLOWED_HOSTS", "") or ",".join(lan_hosts())
        for url in banner_urls([h.strip() for h in hosts.split(",") if h.strip()],
                               int(argv[1])):
            print(url)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
