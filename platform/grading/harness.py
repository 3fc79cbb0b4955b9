"""The in-sandbox side of grading: run setup + the student's cell, export checked names.

Imported by the sandbox's warm parent before it forks, and called as ``main(payload)`` in
the isolated child, whose stdout/stderr are already captured. It never compares anything
and prints nothing of its own: it only turns the run into export bytes (``grading.wire``)
for the trusted grader. Allowed imports: stdlib, torch, numpy, pandas, ``grading.wire``.

Payload (JSON, built by ``grading.grader.build_payload``)::

    {"v": 1, "mode": "submit" | "run", "seed": 0, "setup": "...", "code": "...",
     "export": ["c", "x.grad"], "snapshot": ["Z"], "forbidden": ["torch.softmax"],
     "calls": [{"func": "softmax", "args": ["torch.rand(2, 5)"], "hidden": true}]}

Why this file is long: it is everything that runs inside the sandbox around the student's
cell (seeding, the backward and forbidden-call traces, gradient provenance, calls, the
export), in one module the warm parent imports whole before it forks; the run cannot
import anything from the checkout later, so spreading it over modules buys nothing there.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import difflib
import io
import json
import os
import random
import sys
import traceback
import types
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from grading import wire

CELL = "<cell>"
SETUP = "<setup>"
MAX_MESSAGE = 2_000
MAX_FRAMES = 20
RUN_BLOB_BYTES = 8 * 2**20  # tensor/array bytes a Run exports for its value previews

# Captured before any student code runs (see wire.py for the same idea).
_Tensor = torch.Tensor
_ndarray = np.ndarray
_TensorBase = torch._C.TensorBase
_data_ptr = _TensorBase.data_ptr
_untyped_storage = _TensorBase.untyped_storage
_clone = _TensorBase.clone
_no_tf = torch._C.DisableTorchFunctionSubclass
_get_rng = torch.get_rng_state
_set_rng = torch.set_rng_state
_type = type
_getattr = getattr
_id = id
_grad_of = _TensorBase.grad.__get__  # type: ignore[union-attr]
_version_of = _TensorBase._version.__get__  # type: ignore[attr-defined]
_detach = _TensorBase.detach
_equal = torch.equal

# Methods that are safe to re-evaluate when explaining a broadcast error (no side effects).
_SAFE_METHODS = frozenset(
    [
        "sum",
        "mean",
        "reshape",
        "view",
        "T",
        "t",
        "mT",
        "unsqueeze",
        "squeeze",
        "transpose",
        "permute",
        "flatten",
        "float",
        "double",
        "int",
        "long",
        "clone",
        "detach",
        "cumsum",
        "exp",
        "log",
        "abs",
        "pow",
        "sqrt",
        "max",
        "min",
        "prod",
        "std",
        "var",
        "norm",
        "softmax",
        "expand",
        "expand_as",
        "repeat",
        "numpy",
        "values",
        "to_numpy",
        "shape",
        "size",
    ]
)
_BINARY_FUNCS = frozenset(
    [
        "add",
        "sub",
        "subtract",
        "mul",
        "multiply",
        "div",
        "divide",
        "true_divide",
        "matmul",
        "mv",
        "mm",
        "bmm",
        "dot",
        "cat",
        "concat",
        "stack",
        "where",
        "maximum",
        "minimum",
        "pow",
    ]
)


def prime() -> None:
    """Called once in every warm parent, before any job exists: pay the first calls of the
    module and data APIs there, not on the student's clock. Works on throw-away tensors
    only, so nothing of it can reach a run but the imports."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    net, X, y = _throwaway()
    for Xb, yb in DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True):
        loss = nn.CrossEntropyLoss()(net(Xb), yb) + nn.MSELoss()(net(Xb)[:, 0], Xb[:, 0])
        loss.backward()
    net.eval()
    net.load_state_dict(net.state_dict())
    buffer = io.BytesIO()  # torch.save / torch.load import their config on first use
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    torch.load(buffer)
    np.random.seed(0)  # every run seeds numpy: its random module is imported on first use
    _own_modules()


def prime_on_demand() -> None:
    """Called once in the warm parents that run the jobs naming ``optim`` (and pandas:
    sandbox/pool.py ON_DEMAND): building the first optimizer imports ``torch._dynamo``,
    ~1.2–2.5 s of CPU and ~70 MiB of heap. Paid here for those runs; kept out of the
    warm parents every other run forks from, where it made each fork and exit dearer."""
    from torch import nn

    net, X, y = _throwaway()
    for optimizer in (torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=0.01),
                      torch.optim.Adam(net.parameters())):
        loss = nn.CrossEntropyLoss()(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _throwaway() -> tuple[Any, torch.Tensor, torch.Tensor]:
    """A small model and a batch for the primes: nothing of a job is ever in them."""
    from torch import nn

    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.1),
                        nn.Linear(3, 2))
    return net, torch.zeros(8, 4), torch.tensor([0, 1] * 4)


def main(payload: bytes) -> bytes:
    """Run one job described by ``payload``; return export bytes. Never raises."""
    try:
        job = json.loads(payload.decode("utf-8"))
    except Exception as exc:
        return wire.encode({}, {"harness_error": f"bad payload: {exc}"})
    try:
        return _run(job)
    except BaseException as exc:  # a harness bug must still produce a readable answer
        return wire.encode({}, {"harness_error": f"{_type(exc).__name__}: {exc}"[:MAX_MESSAGE]})


def _run(job: dict[str, Any]) -> bytes:
    mode = job.get("mode", "submit")
    seed = int(job.get("seed", 0))
    setup = str(job.get("setup", ""))
    code = str(job.get("code", ""))
    exports = [str(n) for n in job.get("export", [])]
    snapshot = [str(n) for n in job.get("snapshot", [])]
    calls = list(job.get("calls", [])) if mode == "submit" else []
    forbidden = [str(n) for n in job.get("forbidden", [])]
    extra: dict[str, Any] = {"mode": mode, "error": None, "violations": [], "calls": []}
    values: dict[str, Any] = {}

    random.seed(seed)
    np.random.seed(seed % 2**32)
    # torch.manual_seed's CPU part, without queueing lazy seeds (each with a formatted
    # stack, ~8 ms) for accelerators a CPU run has none of; same CPU random stream.
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}

    try:
        exec(compile(setup, SETUP, "exec"), ns)
    except BaseException as exc:
        extra["setup_error"] = _exception_record(exc, setup, "setup")
        return wire.encode({}, extra)

    # Facts from before the cell: storage identity (in-place checks) and earlier gradients
    # (grad-accumulated). Keeping the objects alive stops the allocator reusing addresses.
    keep_alive: list[Any] = []
    snaps: dict[str, Any] = {}
    for name in snapshot:
        obj = _resolve(ns, name)
        if issubclass(_type(obj), _Tensor):
            keep_alive.append(obj)
            with _no_tf():
                snaps[name] = {
                    "data_ptr": int(_data_ptr(obj)),
                    "storage_ptr": int(_untyped_storage(obj).data_ptr()),
                }
        else:
            snaps[name] = None
    extra["snapshots"] = snaps
    for name in exports:
        if name.endswith(".grad"):
            before = _resolve(ns, name)
            if issubclass(_type(before), _Tensor):
                with _no_tf():
                    before = _clone(before)
            values["before:" + name] = None if isinstance(before, _Missing) else before

    # Call-check inputs are built now, from setup names only, so the cell cannot alter
    # them; the global RNG state is put back so the cell draws what the lesson promises.
    call_args: list[tuple[Any, ...] | None] = []
    if calls:
        rng = (_get_rng(), np.random.get_state(), random.getstate())
        for i, call in enumerate(calls):
            try:
                built = tuple(eval(str(a), dict(ns)) for a in call.get("args", []))
                call_args.append(_clone_tree(built))
            except BaseException as exc:
                call_args.append(None)
                extra.setdefault("arg_errors", {})[str(i)] = _exception_record(exc, "", "args")
        _set_rng(rng[0])
        np.random.set_state(rng[1])
        random.setstate(rng[2])

    violations: list[dict[str, Any]] = extra["violations"]
    restore = _install_forbidden(forbidden, violations)
    backward_calls = [0]
    tracker = _GradTracker(ns, exports, [str(n) for n in job.get("train", [])])
    undo_count = _count_backward(backward_calls, tracker)
    try:
        try:
            compiled = compile(code, CELL, "exec")
        except SyntaxError as exc:
            extra["error"] = _exception_record(exc, code, "cell")
            compiled = None
        if compiled is not None:
            with _guarded():
                try:
                    exec(compiled, ns)
                except BaseException as exc:  # SystemExit/KeyboardInterrupt are errors too
                    extra["error"] = _exception_record(exc, code, "cell")
        undo_count()
        extra["backward_calls"] = backward_calls[0]
        if mode == "submit":
            extra["grad_origin"], extra["training"] = tracker.report(values)
        if mode == "run":
            # Run shows the checked names too (a one-line summary, and their values for the
            # trusted side to format); there are no calls, and no earlier gradients needed.
            extra["summary"] = {n: _summary(_resolve(ns, n)) for n in exports}
            values = {}

        for i, call in enumerate(calls):
            record: dict[str, Any] = {}
            extra["calls"].append(record)
            fn = _resolve(ns, str(call.get("func", "")))
            args = call_args[i]
            if isinstance(fn, _Missing) or args is None:
                values[f"call:{i}"] = fn if isinstance(fn, _Missing) else None
                record["skipped"] = True
                continue
            if not callable(fn):
                values[f"call:{i}"] = fn
                record["not_callable"] = True
                continue
            quiet = _silenced() if call.get("hidden") else contextlib.nullcontext()
            with quiet:
                try:
                    values[f"call:{i}"] = fn(*args)
                except BaseException as exc:
                    record["error"] = _exception_record(exc, code, "call")
    finally:
        undo_count()
        restore()

    for name in exports:
        values[name] = _resolve(ns, name)
    # Run only previews values: a smaller blob budget keeps its result far below the
    # sandbox's result cap (larger tensors go as "truncated", their shape kept).
    enc = wire.Encoder(budget=RUN_BLOB_BYTES) if mode == "run" else wire.Encoder()
    nodes = {
        k: _missing_node(v) if isinstance(v, _Missing) else enc.node(v) for k, v in values.items()
    }
    return enc.finish(nodes, extra)


# --------------------------------------------------------------------------- name lookup


class _Missing:
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def _missing_node(m: _Missing) -> dict[str, Any]:
    return {"t": "missing", "reason": m.reason, "detail": m.detail[:500]}


def _resolve(ns: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in ns:
        return _Missing("name", head)
    obj = ns[head]
    for i, attr in enumerate(rest):
        if obj is None:  # X.device.type with X = None: say so, not "could not be read"
            return _Missing("parent-none", ".".join([head, *rest[:i]]))
        try:
            obj = _getattr(obj, attr)
        except BaseException as exc:  # student __getattr__ may raise anything
            return _Missing("attribute", f"{attr}: {_type(exc).__name__}")
    return obj


def _clone_tree(obj: Any) -> Any:
    if issubclass(_type(obj), _Tensor):
        with _no_tf():
            return _clone(obj)
    if _type(obj) in (tuple, list):
        return _type(obj)(_clone_tree(v) for v in obj)
    return obj


def _summary(obj: Any) -> str:
    if isinstance(obj, _Missing):
        return "not defined"
    cls = _type(obj)
    if issubclass(cls, torch.Tensor):
        with _no_tf():
            return f"tensor {str(obj.dtype).removeprefix('torch.')} {tuple(obj.shape)} {obj.device}"
    if issubclass(cls, _ndarray):
        return f"ndarray {obj.dtype} {obj.shape}"
    return cls.__name__


# --------------------------------------------------------------------------- forbidden calls


def _install_forbidden(names: list[str], violations: list[dict[str, Any]]) -> Any:
    """Wrap each forbidden callable so calling it records a violation; return an undo."""
    undo: list[tuple[Any, str, Any]] = []
    for dotted in names:
        owner, attr = _owner_of(dotted)
        if owner is None:
            continue
        original = _getattr(owner, attr, None)
        if original is None:
            continue

        # A plain function set on torch.Tensor binds like a method, so args[0] is self and
        # the original (a TensorBase method descriptor) takes it as its first argument.
        def wrapper(*args: Any, __orig: Any = original, __name: str = dotted, **kw: Any) -> Any:
            if len(violations) < 20:
                violations.append({"name": __name, "line": _cell_line()})
            return __orig(*args, **kw)

        own = attr in _getattr(owner, "__dict__", {})
        try:
            setattr(owner, attr, wrapper)
            undo.append((owner, attr, original if own else _ABSENT))
        except (AttributeError, TypeError):
            continue

    def restore() -> None:
        for owner, attr, original in reversed(undo):
            with contextlib.suppress(AttributeError, TypeError):
                if original is _ABSENT:
                    delattr(owner, attr)
                else:
                    setattr(owner, attr, original)

    return restore


_ABSENT = object()


def _count_backward(counter: list[int], tracker: _GradTracker | None = None) -> Any:
    """Count backward passes in the cell (Tensor.backward goes through autograd.backward),
    so the grader can tell "backward ran k times" from a k-fold wrong formula; the tracker
    notes which watched gradients each pass wrote (see ``_GradTracker``)."""
    autograd = torch.autograd
    original = autograd.backward

    def backward(*args: Any, **kw: Any) -> Any:
        counter[0] += 1
        if tracker is None:
            return original(*args, **kw)
        state = tracker.before()
        result = original(*args, **kw)
        tracker.after(state)
        return result

    autograd.backward = backward
    done = [False]

    def undo() -> None:
        if not done[0]:
            autograd.backward = original
            done[0] = True

    return undo


class _GradTracker:
    """Which watched gradients a backward pass of the cell wrote, and what training did.

    A gradient "comes from autograd" when the last change to it (a new ``.grad`` object or
    an in-place change, seen through the tensor's version counter) happened inside a
    backward pass of the cell; one assigned or edited after that pass, or present without
    any backward in the cell, does not. For a trained parameter (``train``): how many
    backward passes wrote its gradient (``steps``), after how many of them its value changed
    before the next one (``updates``), and its value when the first of them ran (exported as
    ``init:<name>``). Everything is looked up by name, so ``w = (w - lr * g).detach()...``
    (a new leaf per step) counts as well as an in-place update."""

    MAX_NAMES = 32

    def __init__(self, ns: dict[str, Any], exports: list[str], train: list[str]) -> None:
        self.ns = ns
        self.grads = [n for n in exports if n.endswith(".grad")][: self.MAX_NAMES]
        self.train = list(dict.fromkeys(train))[: self.MAX_NAMES]
        self.marks: dict[str, tuple[int, int]] = {}  # grad name -> state after its last write
        self.alive: dict[str, Any] = {}  # keeps the marked gradient alive (ids stay unique)
        self.steps = {n: 0 for n in self.train}
        self.updates = {n: 0 for n in self.train}
        self.first: dict[str, Any] = {}
        self.last: dict[str, Any] = {}

    def _tensor(self, name: str) -> Any:
        obj = _resolve(self.ns, name)
        return obj if issubclass(_type(obj), _Tensor) else None

    def _grad_state(self, name: str) -> tuple[tuple[int, int] | None, Any]:
        t = self._tensor(name)
        if t is None:
            return None, None
        # Reading .grad of a non-leaf warns; that warning is ours, not the student's.
        with _no_tf(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = _grad_of(t)
            if g is None or not issubclass(_type(g), _Tensor):
                return None, None
            return (_id(g), int(_version_of(g))), g

    def _bases(self) -> list[str]:
        return [n[: -len(".grad")] for n in self.grads] + self.train

    def before(self) -> dict[str, tuple[int, int] | None]:
        try:
            return {b: self._grad_state(b)[0] for b in self._bases()}
        except BaseException:  # a hostile __getattr__: the pass simply records nothing
            return {}

    def after(self, before: dict[str, tuple[int, int] | None]) -> None:
        with contextlib.suppress(BaseException):  # hostile objects: record nothing
            self._after(before)

    def _after(self, before: dict[str, tuple[int, int] | None]) -> None:
        for base in self._bases():
            if base not in before:
                continue
            state, g = self._grad_state(base)
            if state is None or state == before[base]:
                continue  # this pass did not write this gradient
            if base + ".grad" in self.grads:
                self.marks[base + ".grad"] = state
                self.alive[base + ".grad"] = g
            if base in self.steps:
                self.steps[base] += 1
                value = self._value(base)
                if value is None:
                    continue
                if base not in self.first:
                    self.first[base] = value
                elif not self._same(self.last.get(base), value):
                    self.updates[base] += 1
                self.last[base] = value

    def _value(self, name: str) -> Any:
        t = self._tensor(name)
        if t is None:
            return None
        with _no_tf():
            return _clone(_detach(t))

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        with _no_tf():
            return a is not None and a.shape == b.shape and a.dtype == b.dtype and _equal(a, b)

    def report(self, values: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        """``grad_origin`` per watched gradient and ``training`` per trained name, after the
        cell; the initial values go into ``values`` as ``init:<name>``."""
        origin: dict[str, str] = {}
        try:
            for name in self.grads:
                state, _ = self._grad_state(name[: -len(".grad")])
                mark = self.marks.get(name)
                if state is None:
                    origin[name] = "missing"
                elif mark is None:
                    origin[name] = "none"  # never written by a backward pass of the cell
                else:
                    origin[name] = "backward" if state == mark else "replaced"
            training: dict[str, Any] = {}
            for name in self.train:
                final = self._value(name)
                updates = self.updates[name]
                if (
                    final is not None
                    and name in self.last
                    and not self._same(self.last[name], final)
                ):
                    updates += 1  # the update after the last backward pass
                training[name] = {"steps": self.steps[name], "updates": updates}
                if name in self.first:
                    values["init:" + name] = self.first[name]
        except BaseException:
            return origin, {}
        return origin, training


def _owner_of(dotted: str) -> tuple[Any, str]:
    """The object holding a forbidden callable: torch, numpy… (already imported ones only)."""
    parts = dotted.split(".")
    if parts[0] == "Tensor":
        parts = ["torch", *parts]
    root = sys.modules.get(parts[0])
    if root is None or len(parts) < 2:
        return None, ""
    obj: Any = root
    for p in parts[1:-1]:
        obj = _getattr(obj, p, None)
        if obj is None:
            return None, ""
    return obj, parts[-1]


def _cell_line() -> int | None:
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == CELL:
            return frame.f_lineno
        frame = frame.f_back
    return None


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    """Undo what a cell may do to the harness's own footing: rebinding builtins, or
    importing ``grading`` to patch it (a fresh copy is imported instead of ours)."""
    saved_builtins = dict(builtins.__dict__)
    ours = {k: sys.modules[k] for k in _own_modules() if k in sys.modules}
    for k in ours:
        del sys.modules[k]
    try:
        yield
    finally:
        builtins.__dict__.clear()
        builtins.__dict__.update(saved_builtins)
        # Ours go back over whatever the cell imported under their names; a grading module
        # the cell added beside them is never used by the harness, which holds its own.
        sys.modules.update(ours)


_OWN_MODULES: tuple[str, ...] = ()


def _own_modules() -> tuple[str, ...]:
    """The grading package's modules, listed once in the warm parent (prime): walking
    sys.modules (~2,000 entries) in every run touched every entry's refcount, a
    copy-on-write fault per page, ~10 ms of the run."""
    global _OWN_MODULES
    if not _OWN_MODULES:
        _OWN_MODULES = tuple(k for k in sys.modules if k == "grading" or k.startswith("grading."))
    return _OWN_MODULES


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Drop what the student's function prints while it runs on hidden inputs."""
    saved_py = sys.stdout, sys.stderr
    saved_fds: list[tuple[int, int]] = []
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            saved_fds.append((fd, os.dup(fd)))
            os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_py
        for fd, saved in saved_fds:
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)
                os.close(saved)


# --------------------------------------------------------------------------- exceptions


def _exception_record(exc: BaseException, source: str, where: str) -> dict[str, Any]:
    """Describe an exception with the student's own frames and structured facts."""
    try:
        message = str(exc)
    except BaseException:
        message = "<message unavailable>"
    rec: dict[str, Any] = {
        "type": _type(exc).__name__,
        "module": _type(exc).__module__,
        "message": message[:MAX_MESSAGE],
        "where": where,
        "frames": [],
        "modules": [],
        "facts": {},
    }
    lines = source.splitlines()
    filename = CELL if where != "setup" else SETUP
    tb = exc.__traceback__
    last_cell_frame = None
    for frame, lineno in traceback.walk_tb(tb):
        mod = str(frame.f_globals.get("__name__", "")).split(".")[0]
        if mod and mod not in rec["modules"] and mod not in ("grading", "__main__"):
            rec["modules"].append(mod)
        if frame.f_code.co_filename == filename and len(rec["frames"]) < MAX_FRAMES:
            text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            rec["frames"].append({"line": lineno, "func": frame.f_code.co_name, "text": text})
            last_cell_frame = (frame, lineno)
    if rec["frames"]:
        rec["line"] = rec["frames"][-1]["line"]
    facts = rec["facts"]
    if isinstance(exc, SyntaxError):
        facts.update(
            lineno=exc.lineno,
            offset=exc.offset,
            text=(exc.text or "").rstrip("\n")[:500],
            msg=str(exc.msg)[:500],
        )
        if exc.filename == filename:
            rec["line"] = exc.lineno
    elif isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError):
        name = _getattr(exc, "name", None)
        if isinstance(name, str):
            pool: set[str] = set(dir(builtins))
            if last_cell_frame is not None:
                frame = last_cell_frame[0]
                pool |= set(frame.f_globals) | set(frame.f_locals)
            pool |= {"torch", "np", "numpy", "pd", "pandas", "nn", "F", "math", "random"}
            facts["name"] = name
            facts["suggestions"] = difflib.get_close_matches(name, sorted(pool), n=3, cutoff=0.6)
    elif isinstance(exc, AttributeError):
        name = _getattr(exc, "name", None)
        obj = _getattr(exc, "obj", None)
        if isinstance(name, str):
            facts["name"] = name
            try:
                choices = [a for a in dir(obj) if not a.startswith("_")][:5000]
            except BaseException:
                choices = []
            facts["suggestions"] = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
            facts["obj_type"] = (
                obj.__name__ if isinstance(obj, types.ModuleType) else _type(obj).__name__
            )
    if last_cell_frame is not None and isinstance(exc, RuntimeError | ValueError | TypeError):
        shapes = _operand_shapes(source, *last_cell_frame)
        if shapes:
            facts["operands"] = shapes
    return rec


def _operand_shapes(source: str, frame: Any, lineno: int) -> list[dict[str, Any]]:
    """Shapes of the tensor operands on the failing line (side-effect-free parts only)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    pairs: list[tuple[ast.expr, ast.expr, str]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) != lineno:
            continue
        if isinstance(node, ast.BinOp):
            pairs.append((node.left, node.right, type(node.op).__name__))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _BINARY_FUNCS
        ):
            target = node.func.value
            operands = list(node.args)
            if not (isinstance(target, ast.Name) and target.id in ("torch", "np", "numpy")):
                operands = [target, *operands]
            if len(operands) >= 2:
                pairs.append((operands[0], operands[1], node.func.attr))
    out: list[dict[str, Any]] = []
    for left, right, op in pairs[:4]:
        shapes = [_safe_shape(e, frame) for e in (left, right)]
        if all(s is not None for s in shapes):
            out.append(
                {
                    "op": op,
                    "left": ast.unparse(left)[:80],
                    "right": ast.unparse(right)[:80],
                    "left_shape": shapes[0],
                    "right_shape": shapes[1],
                }
            )
    return out


def _is_safe_expr(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Attribute) and sub.func.attr in _SAFE_METHODS):
                return False
        elif isinstance(sub, ast.Attribute):
            if sub.attr.startswith("_"):
                return False
        elif not isinstance(
            sub,
            ast.Name
            | ast.Load
            | ast.Constant
            | ast.Subscript
            | ast.Slice
            | ast.Tuple
            | ast.keyword
            | ast.UnaryOp
            | ast.USub,
        ):
            return False
    return True


def _safe_shape(node: ast.expr, frame: Any) -> list[int] | None:
    if not _is_safe_expr(node):
        return None
    try:
        value = eval(compile(ast.Expression(node), CELL, "eval"), frame.f_globals, frame.f_locals)
    except BaseException:
        return None
    if issubclass(_type(value), _Tensor | _ndarray):
        with _no_tf():
            return [int(s) for s in value.shape]
    return None
