"""Framing between the pool (trusted worker) and its warm parent, and between a run and
the warm parent. Plain length-prefixed bytes and JSON headers: nothing is ever unpickled.

Control messages travel over UNIX stream sockets so that a message can carry file
descriptors (SCM_RIGHTS): that is how a job's memfd and the run's output and result pipes
go from the pool to the run *through* the warm parent without the warm parent ever reading
a byte of them."""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")  # length of the JSON header that follows
MAX_HEADER = 1 << 20

# A run's result pipe carries one frame: kind byte + 8-byte length + body.
FRAME = struct.Struct("!cQ")
KIND_RESULT = b"R"  # the harness returned these bytes
KIND_ERROR = b"E"  # the harness raised; body is the traceback text
KIND_MEMORY = b"M"  # MemoryError escaped the harness
KIND_EXIT = b"X"  # SystemExit escaped the harness; body is the exit code text
KIND_LAYER = b"L"  # the run could not isolate itself after its job arrived; body says why


def read_exact(fd: int, n: int) -> bytes:
    """Read exactly n bytes from a blocking fd; EOFError if the other end went away."""
    chunks = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the pipe")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send_message(fd: int, header: dict[str, Any]) -> None:
    """One JSON header, length first (control messages carry no payload: job bytes travel
    as descriptors, never through a message)."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    write_all(fd, HEADER.pack(len(raw)) + raw)


def recv_header(fd: int) -> dict[str, Any]:
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > MAX_HEADER:
        raise ValueError(f"header of {size} bytes is too large")
    header = json.loads(read_exact(fd, size))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header


def send_with_fds(sock: socket.socket, header: dict[str, Any], fds: list[int]) -> None:
    """A header message whose first bytes carry `fds` as SCM_RIGHTS ancillary data."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    prefix = HEADER.pack(len(raw))
    sent = socket.send_fds(sock, [prefix], fds) if fds else sock.send(prefix)
    sock.sendall(prefix[sent:] + raw)


def recv_with_fds(sock: socket.socket, maxfds: int) -> tuple[dict[str, Any], list[int]]:
    """Read one header message and the descriptors that came with it (at most `maxfds`;
    a message that carried more is refused and its descriptors closed)."""
    msg, fds, flags, _ = socket.recv_fds(sock, HEADER.size, max(1, maxfds))
    if not msg:
        for fd in fds:
            os.close(fd)
        raise EOFError("peer closed the socket")
    if flags & socket.MSG_CTRUNC or len(fds) > maxfds:
        for fd in fds:
            os.close(fd)
        raise ValueError("a control message carried more descriptors than expected")
    try:
        head = msg + (read_exact(sock.fileno(), HEADER.size - len(msg))
                      if len(msg) < HEADER.size else b"")
        (size,) = HEADER.unpack(head)
        if size > MAX_HEADER:
            raise ValueError(f"header of {size} bytes is too large")
        header = json.loads(read_exact(sock.fileno(), size))
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return header, fds
