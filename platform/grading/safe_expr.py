"""A small, safe evaluator for the instructor's ``assert`` checks (trusted side).

An assert check is one Python *expression* over the names its check ``uses``, evaluated
in the grader on the student's decoded data. The grader used to ``eval`` it with full
builtins, so an expression such as ``__import__('os').system(...)`` ran as the worker's
user. Now an expression is parsed with ``ast`` and checked against a short grammar, both
when the lesson is loaded (``validate``, with the lesson file and line) and again before
every evaluation; it is then *interpreted node by node* (no ``eval``, no ``compile``, no
builtins namespace), so nothing outside the grammar can run.

Allowed:
- literals (numbers, strings, ``True``/``False``/``None``, ``...``), tuples and lists;
- the names the check ``uses`` (a dotted use such as ``x.grad`` is read as one name);
- arithmetic (``+ - * / // % ** @``, unary ``- + not ~``), comparisons (including
  ``in``/``is``), ``and``/``or``, ``a if c else b``, subscripts and slices;
- calls of the functions in ``FUNCTIONS`` (``torch.norm``, ``math.isclose``, ``abs``...)
  and of the methods in ``METHODS`` on values (``w.reshape(-1)``, ``x.sum()``...);
- the module constants in ``CONSTANTS`` (``torch.float32``, ``math.pi``...) and any other
  attribute of a value that does not start with ``_``.

Everything else (other names, ``_``-attributes, lambdas, comprehensions, ``**kwargs``,
calls of anything not listed) is refused. Work is bounded too: powers, repetitions and
tensor constructors refuse sizes beyond ``MAX_ELEMENTS``.

Importing this module imports neither torch nor numpy: the lesson loader validates with it.
"""

from __future__ import annotations

import ast
import builtins
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_LENGTH = 2_000  # characters of one expression
MAX_NODES = 400  # AST nodes of one expression
MAX_ELEMENTS = 10_000_000  # elements a constructor or a repetition may build
MAX_EXPONENT = 10_000  # of an int ** int

MODULES = ("torch", "math", "np", "numpy")
_NUMPY = (
    "abs", "all", "allclose", "any", "argmax", "argmin", "array", "array_equal", "asarray",
    "isclose", "isfinite", "isinf", "isnan", "linalg.norm", "max", "mean", "min", "prod",
    "round", "sqrt", "std", "sum", "var", "zeros", "ones", "arange", "linspace",
)  # fmt: skip
# Functions a call may name, by the dotted path written in the expression.
FUNCTIONS: frozenset[str] = frozenset(
    {
        f"torch.{n}"
        for n in (
            "abs", "all", "allclose", "any", "arange", "argmax", "argmin", "as_tensor", "cat",
            "clamp", "count_nonzero", "cumsum", "diag", "dot", "equal", "exp", "eye",
            "flatten", "full", "isclose", "isfinite", "isinf", "isnan", "is_tensor",
            "linspace", "log", "matmul", "max", "mean", "median", "min", "mm", "norm",
            "numel", "ones", "ones_like", "prod", "relu", "round", "sigmoid", "sign",
            "softmax", "sort", "sqrt", "square", "stack", "std", "sum", "tanh", "tensor",
            "topk", "unique", "var", "where", "zeros", "zeros_like", "linalg.norm", "Size",
            "nn.functional.softmax", "nn.functional.log_softmax", "nn.functional.relu",
            "nn.functional.mse_loss", "nn.functional.cross_entropy",
        )
    }
    | {
        f"math.{n}"
        for n in (
            "ceil", "exp", "fabs", "floor", "fsum", "isclose", "isfinite", "isinf", "isnan",
            "log", "prod", "sqrt",
        )
    }
    | {f"np.{n}" for n in _NUMPY}
    | {f"numpy.{n}" for n in _NUMPY}
    | {
        "abs", "all", "any", "bool", "float", "int", "isinstance", "len", "list", "max",
        "min", "round", "sorted", "str", "sum", "tuple",
    }
)  # fmt: skip
_DTYPES = (
    "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
    "float64", "complex64", "complex128", "long", "int", "float", "double", "half",
)  # fmt: skip
# Module attributes an expression may read as values (dtypes, classes for isinstance).
CONSTANTS: frozenset[str] = frozenset(
    {f"torch.{d}" for d in _DTYPES}
    | {"torch.Tensor", "torch.Size", "torch.inf", "torch.nan", "torch.pi"}
    | {"math.pi", "math.e", "math.inf", "math.nan", "math.tau"}
    | {f"{m}.{n}" for m in ("np", "numpy") for n in ("ndarray", "pi", "e", "inf", "nan")}
    | {f"{m}.{d}" for m in ("np", "numpy") for d in _DTYPES[:12] if d != "bfloat16"}
)
# Methods an expression may call on a value (a tensor, an array, a list, a dict...): ones
# that read or derive values. No I/O (tofile, to_csv...), no hooks, no callbacks, nothing
# that builds huge views (expand, repeat).
METHODS: frozenset[str] = frozenset(
    (
        "abs", "add", "all", "allclose", "any", "argmax", "argmin", "astype", "bool",
        "clamp", "clone", "contiguous", "copy", "count", "count_nonzero", "cpu", "cumsum",
        "detach", "diag", "dim", "dot", "double", "eq", "equal", "exp", "flatten", "float",
        "ge", "get", "gt", "index", "int", "isclose", "isfinite", "isinf", "isnan", "item",
        "items", "keys", "le", "log", "long", "lt", "matmul", "max", "mean", "median",
        "min", "mm", "mul", "ne", "nonzero", "norm", "numel", "numpy", "permute", "pow",
        "prod", "ravel", "relu", "reshape", "round", "sigmoid", "sign", "size", "softmax",
        "sqrt", "square", "squeeze", "std", "sub", "sum", "t", "tanh", "tolist",
        "topk", "transpose", "unique", "unsqueeze", "values", "var", "view", "view_as",
        "reshape_as",
    )
)  # fmt: skip
SAFE_BUILTINS = frozenset(n for n in FUNCTIONS if "." not in n)
# Functions whose arguments are sizes: checked against MAX_ELEMENTS before the call.
_SIZED = frozenset(
    f"{m}.{n}"
    for m in ("torch", "np", "numpy")
    for n in ("zeros", "ones", "full", "eye", "arange", "linspace")
)

# Calls that turn a tensor/array into one Python object per element.
_MATERIALISE = frozenset({"list", "tuple", "sorted", "tolist"})
MAX_MATERIALISED = 1_000_000

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_PLAIN = (
    ast.Expression, ast.Constant, ast.Tuple, ast.List, ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Slice, ast.Load,
    ast.keyword, ast.Name, ast.Attribute, ast.Call,
    *_BINOPS, *_UNARY, *_COMPARE,
)  # fmt: skip


class UnsafeExpression(ValueError):
    """The expression uses something outside the allowed grammar."""

    def __init__(self, message: str, col: int | None = None) -> None:
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Checked:
    """A parsed expression that passed ``validate``."""

    tree: ast.Expression
    uses: tuple[str, ...]


def free_names(expression: str) -> list[str]:
    """Names an expression reads besides the modules and allowed functions (the ``uses``
    to infer when a check does not list them), in order of appearance."""
    seen: list[str] = []
    for node in ast.walk(_parse(expression)):
        if (
            isinstance(node, ast.Name)
            and node.id not in MODULES
            and node.id not in SAFE_BUILTINS
            and node.id not in seen
        ):
            seen.append(node.id)
    return seen


def _parse(expression: str) -> ast.Expression:
    if not isinstance(expression, str):
        raise UnsafeExpression("the expression must be text")
    if len(expression) > MAX_LENGTH:
        raise UnsafeExpression(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression(f"not a Python expression: {exc.msg}", exc.offset) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise UnsafeExpression(f"not a Python expression: {exc}"[:200]) from None


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _use_prefix(dotted: str, uses: Iterable[str]) -> str | None:
    """The longest use that ``dotted`` starts with (``x.grad`` for ``x.grad.sum``)."""
    best = None
    for use in uses:
        if (dotted == use or dotted.startswith(use + ".")) and (
            best is None or len(use) > len(best)
        ):
            best = use
    return best


def validate(expression: str, uses: Iterable[str]) -> Checked:
    """Parse and check ``expression``; raise ``UnsafeExpression`` saying what is refused."""
    return _validate(expression, tuple(uses))


@functools.lru_cache(maxsize=512)
def _validate(expression: str, uses: tuple[str, ...]) -> Checked:
    # An exercise's asserts are validated before each run and again when evaluated: the
    # answer depends on the text alone, and the tree is only read (never changed) after.
    tree = _parse(expression)
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise UnsafeExpression(f"the expression has more than {MAX_NODES} parts")
    _Validator(uses).check(tree.body)
    return Checked(tree, uses)


class _Validator:
    def __init__(self, uses: tuple[str, ...]) -> None:
        self.uses = uses

    def refuse(self, node: ast.AST, what: str) -> None:
        raise UnsafeExpression(what, getattr(node, "col_offset", None))

    def check(self, node: ast.AST) -> None:
        if not isinstance(node, _PLAIN):
            self.refuse(node, f"{_what(node)} is not allowed in an assert")
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | complex | str | bool | type(None)) and (
                node.value is not Ellipsis
            ):
                self.refuse(node, f"the constant {node.value!r} is not allowed in an assert")
            return
        if isinstance(node, ast.Name):
            self.name(node, node.id)
            return
        if isinstance(node, ast.Attribute):
            self.attribute(node)
            return
        if isinstance(node, ast.Call):
            self.call(node)
            return
        for child in ast.iter_child_nodes(node):
            self.check(child)

    def name(self, node: ast.AST, name: str, as_callee: bool = False) -> None:
        if name.startswith("_"):
            self.refuse(node, f"the name {name!r} is not allowed in an assert")
        if name in self.uses:
            return
        if name in MODULES:
            self.refuse(node, f"{name!r} may only be used as {name}.<function or constant>")
        if name in SAFE_BUILTINS:
            if not as_callee:
                self.refuse(node, f"{name!r} may only be called")
            return
        self.refuse(node, f"the assert reads {name!r}, which uses does not list")

    def attribute(self, node: ast.Attribute, as_callee: bool = False) -> None:
        dotted = _dotted(node)
        if dotted is None:  # an attribute of a computed value: the value first
            self.check(node.value)
            if node.attr.startswith("_"):
                self.refuse(node, f"the attribute {node.attr!r} is not allowed in an assert")
            return
        root, *parts = dotted.split(".")
        if root.startswith("_"):
            self.name(node, root)
        self.attributes_on_value(node, ".".join(parts))  # the first `_` part, as read
        if _use_prefix(dotted, self.uses):
            return  # a listed name (possibly dotted); anything after it: value attributes
        if root in MODULES:
            allowed = FUNCTIONS if as_callee else CONSTANTS
            if dotted not in allowed:
                kind = "function" if as_callee else "constant"
                self.refuse(node, f"{dotted} is not an allowed {kind} in an assert")
            return
        self.check(node.value)

    def attributes_on_value(self, node: ast.AST, dotted: str) -> None:
        for part in dotted.split("."):
            if part.startswith("_"):
                self.refuse(node, f"the attribute {part!r} is not allowed in an assert")

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in SAFE_BUILTINS:
                self.name(func, func.id)  # refuses underscores, unknown names
                self.refuse(func, f"{func.id!r} is not a function an assert may call")
        elif isinstance(func, ast.Attribute):
            dotted = _dotted(func)
            root = dotted.split(".")[0] if dotted else None
            if dotted is not None and root in MODULES and not _use_prefix(dotted, self.uses):
                self.attribute(func, as_callee=True)
            else:
                self.check(func.value)  # the receiver first: it names the deeper problem
                if func.attr not in METHODS:
                    self.refuse(func, f"the method {func.attr!r} is not allowed in an assert")
        else:
            self.refuse(func, "only named functions and methods may be called in an assert")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.refuse(arg, "*arguments are not allowed in an assert")
            self.check(arg)
        for kw in node.keywords:
            if kw.arg is None or kw.arg.startswith("_"):
                self.refuse(kw, "**arguments are not allowed in an assert")
            self.check(kw.value)


def _what(node: ast.AST) -> str:
    names = {
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.NamedExpr: "an assignment expression (:=)",
        ast.JoinedStr: "an f-string",
        ast.Starred: "a *starred value",
        ast.Dict: "a dict display",
        ast.Set: "a set display",
    }
    return names.get(type(node), f"{type(node).__name__}")


# --------------------------------------------------------------------------- evaluation


def _modules() -> dict[str, Any]:
    import math

    import numpy as np
    import torch

    return {"torch": torch, "math": math, "np": np, "numpy": np}


def _lookup(dotted: str) -> Any:
    """The module function or constant named by an allowed dotted path."""
    root, *rest = dotted.split(".")
    if root not in MODULES:
        return getattr(builtins, root)
    obj = _modules()[root]
    for part in rest:
        obj = getattr(obj, part)
    return obj


def evaluate(expression: str, uses: Iterable[str], env: dict[str, Any]) -> Any:
    """Validate, then evaluate ``expression`` with ``env`` holding the values of ``uses``."""
    checked = validate(expression, uses)
    return _Interpreter(checked.uses, env).eval(checked.tree.body)


class _Interpreter:
    def __init__(self, uses: tuple[str, ...], env: dict[str, Any]) -> None:
        self.uses = uses
        self.env = env

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:  # validate() refused it already; never reached
            raise UnsafeExpression(f"{_what(node)} is not allowed in an assert")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.eval(e) for e in node.elts)

    def _List(self, node: ast.List) -> list[Any]:
        return [self.eval(e) for e in node.elts]

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.uses:
            return self.env[node.id]
        raise UnsafeExpression(f"the name {node.id!r} is not allowed in an assert")

    def _value_attribute(self, node: ast.Attribute) -> Any:
        dotted = _dotted(node)
        if dotted is not None:
            use = _use_prefix(dotted, self.uses)
            if use is not None:
                obj = self.env[use]
                for part in dotted[len(use) :].split(".")[1:]:
                    obj = _getattr(obj, part)
                return obj
            if dotted.split(".")[0] in MODULES:
                if dotted not in CONSTANTS:
                    raise UnsafeExpression(f"{dotted} is not an allowed constant")
                return _lookup(dotted)
        return _getattr(self.eval(node.value), node.attr)

    _Attribute = _value_attribute

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self.eval(node.value)[self.eval(node.slice)]

    def _Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else self.eval(p) for p in parts))

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for expr in node.values:
            value = self.eval(expr)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        pow_ints = isinstance(node.op, ast.Pow) and _is_int(left) and _is_int(right)
        if pow_ints and abs(right) > MAX_EXPONENT and abs(left) > 1:
            raise ValueError(f"an exponent above {MAX_EXPONENT} is not allowed")
        if isinstance(node.op, ast.Mult):
            _check_repeat(left, right)
            _check_repeat(right, left)
        return _BINOPS[type(node.op)](left, right)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.eval(node.operand))

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result: Any = True
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comp)
            result = _COMPARE[type(op)](left, right)
            if len(node.ops) > 1 and not result:  # a chain stops at its first false link
                return result
            left = right
        return result

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Call(self, node: ast.Call) -> Any:
        func = node.func
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
        if isinstance(func, ast.Name):
            if func.id not in SAFE_BUILTINS:
                raise UnsafeExpression(f"{func.id!r} is not a function an assert may call")
            fn = _lookup(func.id)
            dotted = func.id
        else:
            assert isinstance(func, ast.Attribute)
            dotted = _dotted(func) or ""
            if dotted.split(".")[0] in MODULES and not _use_prefix(dotted, self.uses):
                if dotted not in FUNCTIONS:
                    raise UnsafeExpression(f"{dotted} is not an allowed function")
                fn = _lookup(dotted)
            else:
                if func.attr not in METHODS:
                    raise UnsafeExpression(f"the method {func.attr!r} is not allowed")
                fn = _getattr(self.eval(func.value), func.attr)
                dotted = ""
        if dotted in _SIZED:
            _check_sizes(dotted, args, kwargs)
        if dotted in _MATERIALISE and args:
            _check_materialise(args[0])
        elif isinstance(func, ast.Attribute) and func.attr in _MATERIALISE:
            _check_materialise(getattr(fn, "__self__", None))
        return fn(*args, **kwargs)


def _getattr(obj: Any, name: str) -> Any:
    if not isinstance(name, str) or name.startswith("_"):
        raise UnsafeExpression(f"the attribute {name!r} is not allowed")
    return getattr(obj, name)


def _is_int(x: Any) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_repeat(seq: Any, n: Any) -> None:
    if isinstance(seq, str | bytes | list | tuple) and _is_int(n) and len(seq) * n > MAX_ELEMENTS:
        raise ValueError(f"a repetition of more than {MAX_ELEMENTS} items is not allowed")


def _check_materialise(obj: Any) -> None:
    size = getattr(obj, "size", None)
    count = obj.numel() if hasattr(obj, "numel") and callable(obj.numel) else size
    if _is_int(count) and count > MAX_MATERIALISED:
        raise ValueError(f"turning {count} elements into Python objects is not allowed")


def _check_sizes(dotted: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse constructor calls that would build more than MAX_ELEMENTS elements."""
    name = dotted.rsplit(".", 1)[1]
    if name == "arange":
        nums = [float(a) for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        start, end, step = 0.0, 0.0, 1.0
        if len(nums) == 1:
            end = nums[0]
        elif len(nums) >= 2:
            start, end = nums[0], nums[1]
            step = nums[2] if len(nums) > 2 else float(kwargs.get("step", 1.0))
        count = abs((end - start) / step) if step else float("inf")
    elif name == "linspace":
        raw = args[2] if len(args) > 2 else kwargs.get("steps", kwargs.get("num", 50))
        count = float(raw) if isinstance(raw, int | float) else 0.0
    else:
        dims: list[Any] = []
        sizes = args[:1] if name == "full" else args
        if name == "eye":
            sizes = args[:2] if len(args) > 1 else [args[0], args[0]] if args else []
        sizes = [*sizes, *(kwargs[k] for k in ("size", "shape", "n", "N", "M") if k in kwargs)]
        for a in sizes:
            dims.extend(a if isinstance(a, list | tuple) else [a])
        count = 1.0
        for d in dims:
            if _is_int(d):
                count *= max(d, 0)
    if count > MAX_ELEMENTS:
        raise ValueError(f"{dotted} would build more than {MAX_ELEMENTS} elements")
