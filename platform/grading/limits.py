"""Server maxima for the sandbox limits an exercise may ask for.

An exercise's ``limits`` override fields of ``sandbox.Limits``. Without an upper bound an
instructor (or an edited lesson file) could give one run any memory, disk or wall time.
The lesson loader refuses values above these maxima, naming the limit, the value and the
maximum; the grader clamps whatever an exercise row still asks for (rows stored before the
rule) when it builds a job.

The maxima are ``DEFAULT_MAX_LIMITS`` unless Django's settings, once loaded, say otherwise
(``SANDBOX_MAX_LIMITS``). This module never imports Django: it only looks for settings a
Django process has already loaded, so plain-Python users (the sandbox tests, the loader on
its own) get the defaults.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

GiB, MiB = 2**30, 2**20

# The fields of sandbox.Limits an exercise may set, with the largest value it may ask for.
DEFAULT_MAX_LIMITS: dict[str, float] = {
    "cpu_seconds": 30,
    "wall_seconds": 60,
    "memory_bytes": 4 * GiB,
    "processes": 64,
    "file_size_bytes": 256 * MiB,
    "open_files": 256,
    "disk_bytes": 512 * MiB,
    "output_bytes": 1 * MiB,
    "result_bytes": 64 * MiB,  # grading.wire.MAX_TOTAL_BYTES: the grader reads no more
    "gpu_memory_fraction": 1.0,
    "cpus": 4.0,
}
LIMIT_KEYS = tuple(DEFAULT_MAX_LIMITS)


def server_maxima() -> dict[str, float]:
    """The maxima in force: the defaults, updated from Django's ``SANDBOX_MAX_LIMITS`` when
    this process has loaded Django settings (never imports Django itself)."""
    maxima = dict(DEFAULT_MAX_LIMITS)
    conf = sys.modules.get("django.conf")
    settings = getattr(conf, "settings", None)
    try:
        configured = bool(settings is not None and settings.configured)
        extra = getattr(settings, "SANDBOX_MAX_LIMITS", None) if configured else None
    except Exception:  # settings that fail to load: keep the defaults
        extra = None
    if isinstance(extra, Mapping):
        for key, value in extra.items():
            if key in maxima and _number(value) is not None:
                maxima[key] = value
    return maxima


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def over_maxima(
    limits: Mapping[str, Any], maxima: Mapping[str, float] | None = None
) -> list[tuple[str, float, float]]:
    """(limit, value, maximum) for every limit above its maximum."""
    maxima = server_maxima() if maxima is None else maxima
    out = []
    for key, value in limits.items():
        number, top = _number(value), maxima.get(key)
        if number is not None and top is not None and number > top:
            out.append((key, value, top))
    return out


def clamp(limits: Mapping[str, Any], maxima: Mapping[str, float] | None = None) -> dict[str, Any]:
    """``limits`` with every value above its maximum lowered to the maximum."""
    maxima = server_maxima() if maxima is None else maxima
    out = dict(limits)
    for key, _value, top in over_maxima(limits, maxima):
        out[key] = top
    return out


def describe(key: str, value: float) -> str:
    """A limit's value for a message: bytes in MiB/GiB, seconds with "s"."""
    if key.endswith("_bytes"):
        if value >= GiB and value % GiB == 0:
            return f"{value / GiB:g} GiB"
        if value >= MiB:
            return f"{value / MiB:g} MiB"
        return f"{value:g} bytes"
    if key.endswith("_seconds"):
        return f"{value:g} s"
    return f"{value:g}"
