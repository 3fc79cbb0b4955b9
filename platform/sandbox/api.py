"""The public data types of the sandbox: limits, jobs and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Status = Literal["ok", "timeout", "memory_limit", "output_limit", "crashed", "refused"]


class SandboxError(RuntimeError):
    """The platform failed (not the student's code): the warm parent broke or vanished."""


class SandboxUnavailable(SandboxError):
    """The host cannot provide an isolation layer and the pool is strict (fail closed)."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    memory_bytes: int = 1024 * 2**20
    processes: int = 32  # processes + threads of the run
    file_size_bytes: int = 8 * 2**20
    open_files: int = 64
    disk_bytes: int = 32 * 2**20  # private tmpfs working folder
    output_bytes: int = 64 * 2**10  # stdout+stderr kept; the rest cut with a visible marker
    result_bytes: int = 32 * 2**20  # harness result size cap
    gpu_memory_fraction: float = 0.5  # device="gpu" only: share of the card one run may use
    cpus: float = 1.0  # share of the cores the whole run may use at once (cgroup cpu quota)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Limits:
        """Build from an exercise's `limits:` mapping; unknown keys are ignored."""
        if not data:
            return cls()
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        # Flat numbers only: `asdict`'s recursive deep copy cost ~0.5 ms per graded run.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def validated(self) -> Limits:
        """Raise ValueError on nonsense limits (the warm parent trusts what it is sent)."""
        for name, value in self.to_dict().items():
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"sandbox limit {name} must be a positive number, got {value!r}")
        if self.processes < 4:
            raise ValueError("sandbox limit processes must be at least 4")
        if self.open_files < 16:
            raise ValueError("sandbox limit open_files must be at least 16")
        if self.gpu_memory_fraction > 1:
            raise ValueError("sandbox limit gpu_memory_fraction must be at most 1")
        return self


@dataclass(frozen=True)
class Job:
    payload: bytes  # opaque to the sandbox, handed to the harness
    files: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    limits: Limits = field(default_factory=Limits)


@dataclass
class RunReport:
    status: Status
    result: bytes | None  # what the harness returned (None unless it returned)
    output: str  # captured stdout+stderr, capped, marker appended if cut
    output_truncated: bool
    duration_ms: float
    exit_code: int | None
    signal: int | None
    message: str  # for the student when status != "ok"
    cpu_ms: float | None = None  # CPU time the run used (user + system)
    memory_peak_bytes: int | None = None  # max RSS of the run, when known
    timings: dict[str, float] = field(default_factory=dict)  # warm parent's breakdown (ms)
    # A stable code for how the run ended, for callers that phrase (translate) their own
    # messages: ok, cpu_time, wall_time, memory, gpu_memory, output, result_size,
    # file_size, signal, exit, system_exit, harness_error, unclean_exit, malformed_result,
    # layer; `detail` holds its numbers (limit, signal, code, last_output...).
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
