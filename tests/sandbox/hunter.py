"""An attacker's cell for the cross-run tests: it hunts its own process for data of earlier
runs (needles) in the call stack, in every gc-tracked container and in /proc/self/mem, and
can try to replay an export it finds as its own result.

The needles travel as two halves of integer lists and are never joined in the run, so the
hunter's own code and objects never match: a hit is data that came from somewhere else."""

from __future__ import annotations

import base64
import json
import os
import secrets

HUNT_PREFIX = "HUNT-RESULT:"


def marker(tag: str) -> str:
    """A needle unique to this test session."""
    return f"{tag}-{secrets.token_hex(12)}"


def _halves(needle: str) -> tuple[list[int], list[int]]:
    raw = needle.encode()
    cut = len(raw) // 2
    return list(raw[:cut]), list(raw[cut:])


def hunter_code(needles: dict[str, str], *, replay: bool = False, plant: bytes = b"") -> str:
    """The cell. `replay`: write the first export found in memory (b"GRW1" + JSON) to the
    run's result pipe and exit, as the attack on the old warm parent did. `plant`: bytes
    the cell puts into its own memory first (a positive control: the hunt must find them)."""
    split = {name: _halves(n) for name, n in needles.items()}
    return f'''
import gc as _gc, json as _json, os as _os, sys as _sys, base64 as _b64, ctypes as _ct
_SPLIT = {{k: (bytes(a), bytes(b)) for k, (a, b) in {split!r}.items()}}
_PLANT = _b64.b64decode({base64.b64encode(plant).decode()!r})

def _count(buf, h1, h2):
    n, i = 0, buf.find(h1)
    while i >= 0:
        if buf[i + len(h1):i + len(h1) + len(h2)] == h2:
            n += 1
        i = buf.find(h1, i + 1)
    return n

def _texts(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        yield bytes(v)
    elif isinstance(v, str):
        yield v.encode("utf-8", "surrogatepass")

def _inside(v):
    yield from _texts(v)
    try:
        if isinstance(v, dict):
            for k, x in list(v.items()):
                yield from _texts(k)
                yield from _texts(x)
        elif isinstance(v, (list, tuple, set, frozenset)):
            for x in list(v):
                yield from _texts(x)
    except Exception:
        pass

_found = {{k: {{"stack": 0, "gc": 0, "mem": 0}} for k in _SPLIT}}
_f = _sys._getframe()
while _f is not None:
    for _v in list(_f.f_locals.values()) + list(_f.f_globals.values()) + list(_f.f_code.co_consts):
        for _t in _inside(_v):
            for _k, (_a, _b) in _SPLIT.items():
                _found[_k]["stack"] += _count(_t, _a, _b)
    _f = _f.f_back
for _o in _gc.get_objects():
    for _t in _inside(_o):
        for _k, (_a, _b) in _SPLIT.items():
            _found[_k]["gc"] += _count(_t, _a, _b)
_scanned = 0
_exports = []
_magic = bytes([71, 82, 87]) + bytes([49])
with open("/proc/self/maps") as _fh:
    _maps = _fh.read().splitlines()

def _peek(addr, size):
    # Our own memory, read directly: every writable mapping is readable to us.
    return _ct.string_at(addr, size)
for _line in _maps:
    _parts = _line.split()
    if not _parts[1].startswith("rw"):
        continue
    _lo, _hi = (int(x, 16) for x in _parts[0].split("-"))
    _pos = _lo
    while _pos < _hi:
        _buf = _peek(_pos, min((1 << 22) + 256, _hi - _pos))
        _scanned += len(_buf)
        for _k, (_a, _b) in _SPLIT.items():
            _found[_k]["mem"] += _count(_buf[:1 << 22], _a, _b)
        if {replay!r}:
            _i = _buf.find(_magic)
            while _i >= 0 and len(_exports) < 64:
                _exports.append((_pos + _i, _hi))
                _i = _buf.find(_magic, _i + 1)
        _pos += 1 << 22
print({HUNT_PREFIX!r} + _json.dumps({{"found": _found, "scanned": _scanned}}), flush=True)

def _replay():
    for _at, _end in _exports:
        try:
            _head = _peek(_at, min(8, _end - _at))
            _jlen = int.from_bytes(_head[4:8], "big")
            if not 2 <= _jlen <= _end - _at - 8:
                continue
            _doc = _json.loads(_peek(_at + 8, _jlen))
            if not isinstance(_doc, dict) or not _doc.get("values"):
                continue
            _blob = _peek(_at, min(8 + _jlen + 4096, _end - _at))
        except Exception:
            continue
        _res = []
        for _fd in sorted(int(x) for x in _os.listdir("/proc/self/fd")):
            try:
                _target = _os.readlink(f"/proc/self/fd/{{_fd}}")
            except OSError:
                continue
            if _fd > 2 and _target.startswith("pipe:"):
                _res.append(_fd)
        for _fd in _res:
            try:
                _os.write(_fd, b"R" + len(_blob).to_bytes(8, "big") + _blob)
                _os.close(_fd)
            except OSError:
                pass
        print("REPLAYED", _at, flush=True)
        _sys.stdout.flush()
        _os._exit(0)

if {replay!r}:
    _replay()
'''


def findings(output: str) -> dict:
    """The hunter's report line from a run's output."""
    for line in output.splitlines():
        if line.startswith(HUNT_PREFIX):
            return json.loads(line[len(HUNT_PREFIX):])
    raise AssertionError(f"the hunter printed no report; output was:\n{output[-2000:]}")


def scan_process(pid: int, needles: dict[str, str]) -> tuple[dict[str, int], int]:
    """From outside (root): count each needle in another process's writable memory."""
    counts = {k: 0 for k in needles}
    raw = {k: n.encode() for k, n in needles.items()}
    scanned = 0
    with open(f"/proc/{pid}/maps") as fh:
        maps = fh.read().splitlines()
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        for line in maps:
            parts = line.split()
            if not parts[1].startswith("rw"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            pos = lo
            while pos < hi:
                try:
                    buf = os.pread(fd, min(1 << 22, hi - pos) + 256, pos)
                except OSError:
                    break
                scanned += len(buf)
                for k, n in raw.items():
                    counts[k] += buf[:1 << 22].count(n)
                pos += 1 << 22
    finally:
        os.close(fd)
    return counts, scanned
