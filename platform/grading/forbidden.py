"""Static detection of forbidden calls in the student's source (trusted side, before running).

Resolves what each name and attribute refers to through imports and simple assignments
(``import torch as t``, ``import torch.nn.functional as F``, ``from torch import softmax``,
``sm = torch.softmax``, ``getattr(torch, "softmax")``), and treats ``.softmax(...)`` on any
value that is not a known module as the tensor method ``Tensor.softmax``. The harness adds
a run-time check for whatever slips through (see ``harness._install_forbidden``).
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass

# Namespaces that expose the same function under one name.
_FAMILY = ("torch", "torch.nn.functional", "torch.special", "Tensor")
# Module classes that only wrap a forbidden function.
_WRAPPERS = {
    "softmax": ("torch.nn.Softmax",),
    "log_softmax": ("torch.nn.LogSoftmax",),
    "cross_entropy": ("torch.nn.CrossEntropyLoss",),
}


@dataclass(frozen=True)
class Violation:
    name: str  # the forbidden dotted name the code refers to
    line: int


def expand(names: list[str] | tuple[str, ...]) -> list[str]:
    """Add the same function's other homes: torch.softmax also forbids F.softmax, x.softmax."""
    import torch

    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if name.startswith("torch.Tensor."):
            name = name.removeprefix("torch.")
        out.append(name)
        prefix, _, fname = name.rpartition(".")
        if prefix not in _FAMILY:
            continue
        for home in _FAMILY:
            obj = torch.Tensor if home == "Tensor" else _module(home)
            if obj is not None and hasattr(obj, fname):
                out.append(f"{home}.{fname}")
        out.extend(_WRAPPERS.get(fname, ()))
    return sorted(set(out))


def _module(dotted: str) -> object | None:
    import importlib

    try:
        return importlib.import_module(dotted)
    except ImportError:
        return None


class _Finder(ast.NodeVisitor):
    def __init__(self, forbidden: set[str], env: dict[str, str], record: bool) -> None:
        self.forbidden = forbidden
        self.methods = {n.removeprefix("Tensor.") for n in forbidden if n.startswith("Tensor.")}
        self.env = env
        self.record = record
        self.found: list[Violation] = []

    # bindings ---------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.env[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.env[head] = head
            self._hit(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module or node.level:
            return
        for alias in node.names:
            if alias.name == "*":
                for name in self.forbidden:
                    prefix, _, fname = name.rpartition(".")
                    if prefix == node.module:
                        self.env[fname] = name
                        self._hit(name, node.lineno)
                continue
            target = f"{node.module}.{alias.name}"
            self.env[alias.asname or alias.name] = target
            self._hit(target, node.lineno)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        target = self.resolve(node.value)
        for t in node.targets:
            if isinstance(t, ast.Name):
                if target:
                    self.env[t.id] = target
                else:
                    self.env.pop(t.id, None)

    # uses -------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            resolved = self.env.get(node.id)
            if resolved:
                self._hit(resolved, node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            base = self.resolve(node.value)
            if base is not None:
                self._hit(f"{base}.{node.attr}", node.lineno)
            elif node.attr in self.methods:
                self._hit(f"Tensor.{node.attr}", node.lineno)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        resolved = self.resolve(node)
        if resolved is not None:
            self._hit(resolved, node.lineno)
        elif (
            isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in self.methods
        ):
            self._hit(f"Tensor.{node.args[1].value!s}", node.lineno)
        self.generic_visit(node)

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to, when it is a module path."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            func = node.func
            const = [a.value for a in node.args if isinstance(a, ast.Constant)]
            fname = func.id if isinstance(func, ast.Name) else func.attr
            if fname == "getattr" and len(node.args) >= 2 and len(const) >= 1:
                base = self.resolve(node.args[0])
                attr = node.args[1]
                if base and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    return f"{base}.{attr.value}"
            if fname in ("__import__", "import_module") and const and isinstance(const[0], str):
                return const[0] if fname == "import_module" else const[0].split(".")[0]
        return None

    def _hit(self, dotted: str, line: int) -> None:
        if self.record and dotted in self.forbidden:
            v = Violation(dotted, line)
            if v not in self.found:
                self.found.append(v)


def find(code: str, forbidden: list[str] | tuple[str, ...], setup: str = "") -> list[Violation]:
    """Return the forbidden names the student's code refers to (empty when none)."""
    names = set(expand(list(forbidden)))
    if not names:
        return []
    env: dict[str, str] = {}
    with contextlib.suppress(SyntaxError):
        _Finder(names, env, record=False).visit(ast.parse(setup))
    finder = _Finder(names, env, record=True)
    finder.visit(ast.parse(code))
    return finder.found
