"""Read, validate and write lesson folders (plain Python, no Django).

The format is documented for instructors in ``lessons/README.md``::

    lessons/<lesson>/lesson.yaml          slug, order, title, summary; due, opens (optional)
    lessons/<lesson>/en.md, zh-hans.md    prose; ``::: exercise <slug>`` places a cell
    lessons/<lesson>/exercises/<slug>/    exercise.yaml, setup.py, starter.py, solution.py

Every problem found is reported with its file and line; ``load_course`` collects all of
them before raising, so an instructor fixes a whole batch in one go.

Why this file is long: it is the one reader of one file format, field by field, each with
its own line-numbered message; split, the rules of a field would sit apart from the format
they belong to.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from grading import limits as server_limits
from grading import safe_expr
from grading.spec import LANGS, CheckSpec, ExerciseSpec

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Dotted path of a checked name: identifiers, plus digits for nn.Sequential children.
NAME_PATH_RE = re.compile(r"^[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\d+))*$")
DOTTED_RE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
MARKER_RE = re.compile(r"^:::\s*exercise\s+(\S+)\s*$")
MARKER_START_RE = re.compile(r"^:::\s*exercise\b")

LESSON_FILE = "lesson.yaml"
EXERCISE_FILE = "exercise.yaml"
CODE_FILES = ("setup.py", "starter.py", "solution.py")
QUEUES = ("cpu", "gpu", "any")
# Overridable fields of sandbox.Limits (kept as text: loader must not import sandbox), each
# with a server maximum (grading.limits; settings.SANDBOX_MAX_LIMITS in a Django process).
LIMIT_KEYS = server_limits.LIMIT_KEYS
LESSON_KEYS = ("slug", "order", "title", "summary")
OPTIONAL_LESSON_KEYS = ("due", "opens")
# Scheduling and grading weight: kept out of ExerciseSpec, they never change how code is graded.
META_KEYS = ("due", "optional", "weight")
EXERCISE_KEYS = (
    "slug",
    "title",
    "prompt",
    "hints",
    "queue",
    "seed",
    "variants",
    "limits",
    "forbidden",
    "checks",
    "files",
    *META_KEYS,
)
VARIANTS_RANGE = (2, 50)  # `variants: N`: per-student variants (lessons/README.md)
REQUIRED_EXERCISE_KEYS = ("slug", "title", "prompt", "hints", "queue", "checks")
KIND_KEYS = ("name", "call", "assert", "heldout", "structure", "losses", "mode")
COMMON_CHECK_KEYS = ("points", "label", "hidden", "rtol", "atol", "message")
KIND_OPTIONS = {
    "name": ("values", "nonconstant", "storage", "separate_from", "trained", "moved"),
    "call": ("args", "values", "nonconstant"),
    "assert": ("uses",),
    # Training checks (grading/models_rebuild.py).
    "heldout": ("data", "heldout_data", "accuracy", "uses"),
    "structure": (),
    "losses": ("below",),
    "mode": ("expect",),  # the model's train()/eval() mode at the end of the cell
}
MODE_VALUES = ("eval", "train")
STORAGE_VALUES = ("unchanged",)
MAX_HINTS = 3


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"


class LessonFormatError(Exception):
    """Raised with every problem found in one or more lesson folders."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ExerciseMeta:
    """How an exercise counts (not how it is graded): its own deadline, optional, weight."""

    due: datetime | None = None  # overrides the lesson's `due`
    optional: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class LessonDoc:
    slug: str
    order: int
    title: dict[str, str]
    summary: dict[str, str]
    prose: dict[str, str]  # language -> markdown
    exercises: tuple[ExerciseSpec, ...]  # in order of placement in the prose
    path: Path = field(compare=False)  # where it was read from; not part of the content
    due: datetime | None = None  # late after this (time zone required)
    opens: datetime | None = None  # hidden from students before this
    meta: dict[str, ExerciseMeta] = field(default_factory=dict)  # exercise slug -> meta

    def meta_of(self, slug: str) -> ExerciseMeta:
        return self.meta.get(slug) or ExerciseMeta()

    def exercise(self, slug: str) -> ExerciseSpec:
        for spec in self.exercises:
            if spec.slug == slug:
                return spec
        raise KeyError(slug)


# --------------------------------------------------------------------------- YAML with lines


class _Map(dict):
    """A mapping that remembers the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list):
    line: int = 0
    item_lines: list[int]


def _line_of(node: Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Collects problems for one folder and parses its YAML with line numbers."""

    def __init__(self, max_limits: dict[str, float] | None = None) -> None:
        self.problems: list[Problem] = []
        # Read once per load: the server's maxima (Django settings when loaded, else defaults).
        self.max_limits = server_limits.server_maxima() if max_limits is None else max_limits

    def add(self, file: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def read_text(self, file: Path) -> str | None:
        if not file.is_file():
            self.add(file, None, "file is missing")
            return None
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.add(file, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")
            return None

    def read_yaml(self, file: Path) -> _Map | None:
        text = self.read_text(file)
        if text is None:
            return None
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            what = " ".join(p for p in (exc.context, exc.problem) if p)
            self.add(file, line, f"malformed YAML: {what}")
            return None
        except yaml.YAMLError as exc:
            self.add(file, None, f"malformed YAML: {exc}")
            return None
        finally:
            loader.dispose()
        if node is None:
            self.add(file, 1, "the file is empty; expected a mapping of keys")
            return None
        if not isinstance(node, MappingNode):
            self.add(file, _line_of(node), "expected a mapping of keys at the top level")
            return None
        converted: _Map = self._convert(node, loader, file)
        return converted

    def _convert(self, node: Node, loader: yaml.SafeLoader, file: Path) -> Any:
        if isinstance(node, MappingNode):
            out = _Map()
            out.line = _line_of(node)
            out.key_lines = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.add(file, _line_of(key_node), "a key must be a plain value")
                    continue
                key = SafeConstructor.construct_object(loader, key_node)
                if key in out:
                    self.add(file, _line_of(key_node), f"duplicate key {key!r}")
                out[key] = self._convert(value_node, loader, file)
                out.key_lines[key] = _line_of(key_node)
            return out
        if isinstance(node, SequenceNode):
            seq = _Seq(self._convert(item, loader, file) for item in node.value)
            seq.line = _line_of(node)
            seq.item_lines = [_line_of(item) for item in node.value]
            return seq
        try:
            return SafeConstructor.construct_object(loader, node, deep=True)
        except yaml.YAMLError as exc:
            self.add(file, _line_of(node), f"malformed YAML value: {exc}")
            return None


def _key_line(mapping: Any, key: Any) -> int | None:
    if isinstance(mapping, _Map):
        return mapping.key_lines.get(key, mapping.line)
    return None


def _item_line(seq: Any, index: int) -> int | None:
    if isinstance(seq, _Seq) and index < len(seq.item_lines):
        return seq.item_lines[index]
    return None


def _node_line(value: Any) -> int | None:
    return getattr(value, "line", None) or None


# --------------------------------------------------------------------------- field helpers


def _unknown_keys(
    r: _Reader, file: Path, mapping: dict[str, Any], allowed: Iterable[str], what: str
) -> None:
    allowed = tuple(allowed)
    for key in mapping:
        if key not in allowed:
            r.add(
                file,
                _key_line(mapping, key),
                f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})",
            )


def _translations(r: _Reader, file: Path, value: Any, line: int | None, what: str) -> dict:
    """Validate a {en: ..., zh-hans: ...} mapping; return it as a plain dict."""
    if value is None:
        r.add(file, line, f"{what} is missing (needs {' and '.join(LANGS)})")
        return {}
    if not isinstance(value, dict):
        r.add(file, line, f"{what} must be a mapping with keys {' and '.join(LANGS)}")
        return {}
    result: dict[str, str] = {}
    for key in value:
        if key not in LANGS:
            r.add(file, _key_line(value, key), f"unknown language {key!r} in {what}")
    for lang in LANGS:
        text = value.get(lang)
        if text is None or (isinstance(text, str) and not text.strip()):
            r.add(file, _node_line(value) or line, f"missing {lang} translation of {what}")
        elif not isinstance(text, str):
            r.add(file, _key_line(value, lang), f"{what} ({lang}) must be text")
        else:
            result[lang] = text
    return result


def _as_float(value: Any) -> float | None:
    """Numbers, plus strings like '1e-5' that YAML 1.1 does not read as floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _moment(r: _Reader, file: Path, data: Any, key: str) -> datetime | None:
    """An ISO date-time with a time zone (`2026-03-01T23:59:00+08:00`), else a problem."""
    value = data.get(key)
    if value is None:
        return None
    line = _key_line(data, key)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            r.add(file, line, f"{key} {value!r} is not an ISO date-time like "
                              f"2026-03-01T23:59:00+08:00")
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        r.add(file, line, f"{key} needs a time and a time zone, like {value}T23:59:00+08:00")
        return None
    if not isinstance(value, datetime):
        r.add(file, line, f"{key} must be an ISO date-time like 2026-03-01T23:59:00+08:00")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        r.add(file, line, f"{key} needs a time zone, like {value.isoformat()}+08:00 or Z")
        return None
    return value


def _exercise_meta(r: _Reader, file: Path, data: Any) -> ExerciseMeta:
    due = _moment(r, file, data, "due")
    optional = data.get("optional", False)
    if not isinstance(optional, bool):
        r.add(file, _key_line(data, "optional"), "optional must be true or false")
        optional = False
    weight = 1.0
    if "weight" in data:
        number = _as_float(data["weight"])
        if number is None or not number >= 0:
            r.add(file, _key_line(data, "weight"), "weight must be a number >= 0")
        else:
            weight = number
    return ExerciseMeta(due=due, optional=optional, weight=weight)


def _str_list(r: _Reader, file: Path, value: Any, line: int | None, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        r.add(file, line, f"{what} must be a list")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            r.add(file, _item_line(value, i) or line, f"{what} item {i + 1} must be text")
        else:
            out.append(item)
    return out


# --------------------------------------------------------------------------- Python analysis


def defined_names(source: str) -> set[str]:
    """Module-level names a piece of code defines (assignments, defs, imports, loops...)."""
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return  # their bodies have their own scope
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets(node.optional_vars)
        elif isinstance(node, ast.NamedExpr):
            targets(node.target)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return names


def attribute_chains(source: str) -> set[str]:
    """Dotted names used in code (``torch.nn.functional.softmax``, ``F.softmax``...)."""
    chains: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            parts = [node.attr]
            inner: ast.AST = node.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name):
                parts.append(inner.id)
                chains.add(".".join(reversed(parts)))
    return chains


def _parse_problem(r: _Reader, file: Path, source: str) -> bool:
    try:
        ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        r.add(file, exc.lineno, f"Python syntax error: {exc.msg}")
        return False
    return True


# --------------------------------------------------------------------------- checks


MAX_HELDOUT_BYTES = 2 * 2**20


def _heldout_bytes(r: _Reader, file: Path, raw: dict) -> str | None:
    """The held-out set as base64: inline (``heldout_data``, as authoring dumps it) or read
    from ``data``, a .npz in the lesson folder that the run's files never include."""
    import base64
    import binascii
    import io

    import numpy as np

    if "heldout_data" in raw:
        line, text = _key_line(raw, "heldout_data"), raw["heldout_data"]
        try:
            blob = base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            r.add(file, line, "heldout_data must be base64 text")
            return None
    elif isinstance(raw.get("data"), str):
        line, rel = _key_line(raw, "data"), raw["data"]
        lesson = file.parent.parent.parent
        path = lesson / rel
        if rel.startswith("/") or ".." in Path(rel).parts or not rel.endswith(".npz"):
            r.add(file, line, f"data {rel!r} must be a .npz path inside the lesson folder")
            return None
        if not path.is_file():
            r.add(file, line, f"data file {rel!r} not found in {lesson.name}/")
            return None
        blob = path.read_bytes()
    else:
        r.add(file, _node_line(raw), "a heldout check needs data: a .npz file of the lesson")
        return None
    if len(blob) > MAX_HELDOUT_BYTES:
        r.add(file, line, f"the held-out data is over {MAX_HELDOUT_BYTES // 2**20} MiB")
        return None
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            X, y = npz["X"], npz["y"]
        if X.ndim < 2 or y.ndim != 1 or len(X) != len(y) or not len(y):
            raise ValueError(f"X {X.shape} and y {y.shape} do not pair up")
        if X.dtype.kind not in "uif" or y.dtype.kind not in "ui":
            raise ValueError("X must be numbers and y whole numbers (class indices)")
    except Exception as exc:  # not an npz, no X/y arrays, object arrays...
        r.add(file, line, f"held-out data unusable: {exc}"[:300])
        return None
    return base64.b64encode(blob).decode("ascii")


def _training_check(
    r: _Reader, file: Path, raw: dict, kind: str, target: str, defined: set[str] | None,
    kw: dict[str, Any],
) -> bool:
    """heldout (a model name, or a formula over uses and X), structure, losses, mode."""
    tline = _key_line(raw, kind)
    kw[kind] = target
    if kind == "heldout" and not target.isidentifier():
        try:
            free = safe_expr.free_names(target)
            uses = _str_list(r, file, raw.get("uses"), _key_line(raw, "uses"), "uses")
            missing = [n for n in free if n not in uses and n != "X"]
            if missing:
                r.add(file, tline, f"heldout formula reads {', '.join(missing)} but uses does "
                      "not list it (X is the held-out inputs)")  # fmt: skip
                return False
            safe_expr.validate(target, (*uses, "X"))
        except safe_expr.UnsafeExpression as exc:
            r.add(file, tline, f"heldout formula refused: {exc}")
            return False
        kw["uses"] = tuple(uses)
        names = uses
    else:
        if "uses" in raw:
            r.add(file, _key_line(raw, "uses"), "uses goes with a heldout formula only")
            return False
        names = [target]
    for name in names:
        if not name.isidentifier():
            r.add(file, tline, f"{kind} {name!r} must be a Python name")
            return False
        if defined is not None and name not in defined:
            r.add(file, tline, f"{kind} check names {name!r}, but the reference solution "
                  "(with setup) does not define it")  # fmt: skip
            return False
    if kind == "heldout":
        accuracy = _as_float(raw.get("accuracy"))
        if accuracy is None or not 0 < accuracy <= 1:
            r.add(file, _key_line(raw, "accuracy") or tline,
                  "a heldout check needs accuracy: a number in (0, 1]")  # fmt: skip
            return False
        kw["accuracy"] = accuracy
        data = _heldout_bytes(r, file, raw)
        if data is None:
            return False
        kw["heldout_data"] = data
        if isinstance(raw.get("data"), str):
            kw["data"] = raw["data"]
    if kind == "mode" and "expect" in raw:
        if raw["expect"] not in MODE_VALUES:
            r.add(file, _key_line(raw, "expect"), "expect must be eval or train")
            return False
        kw["expect"] = raw["expect"]
    if kind == "losses" and "below" in raw:
        below = _as_float(raw["below"])
        if below is None or not math.isfinite(below):
            r.add(file, _key_line(raw, "below"), "below must be a number")
            return False
        kw["below"] = below
    return True


def _check(
    r: _Reader, file: Path, raw: Any, line: int | None, defined: set[str] | None
) -> CheckSpec | None:
    """Validate one entry of ``checks``; ``defined`` is None when the code did not parse."""
    if not isinstance(raw, dict):
        r.add(file, line, "a check must be a mapping (with name, call or assert)")
        return None
    line = _node_line(raw) or line
    kinds = [k for k in KIND_KEYS if k in raw]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        r.add(file, line, f"a check needs exactly one of {', '.join(KIND_KEYS)} (found: {found})")
        return None
    kind = kinds[0]
    allowed = (*KIND_KEYS, *COMMON_CHECK_KEYS, *KIND_OPTIONS[kind])
    ok = True
    for key in raw:
        if key in KIND_KEYS and key != kind:
            continue
        if key not in allowed:
            hint = ""
            if any(key in opts for opts in KIND_OPTIONS.values()):
                hint = f" (not valid for a {kind} check)"
            r.add(file, _key_line(raw, key), f"unknown check option {key!r}{hint}")
            ok = False

    kw: dict[str, Any] = {}
    target = raw[kind]
    tline = _key_line(raw, kind)
    if not isinstance(target, str) or not target.strip():
        r.add(file, tline, f"check {kind} must be text")
        return None
    if kind == "name":
        if not NAME_PATH_RE.match(target):
            r.add(file, tline, f"check name {target!r} is not a (dotted) Python name")
            ok = False
        elif defined is not None and target.split(".")[0] not in defined:
            r.add(
                file,
                tline,
                f"check names {target!r}, but the reference solution (with setup) "
                f"does not define {target.split('.')[0]!r}",
            )
            ok = False
        kw["name"] = target
    elif kind == "call":
        if not target.isidentifier():
            r.add(file, tline, f"check call {target!r} must be a function name")
            ok = False
        elif defined is not None and target not in defined:
            r.add(
                file,
                tline,
                f"check calls {target!r}, but the reference solution (with setup) "
                "does not define it",
            )
            ok = False
        kw["call"] = target
        args = _str_list(r, file, raw.get("args"), _key_line(raw, "args"), "args")
        for i, expr in enumerate(args):
            try:
                ast.parse(expr, mode="eval")
            except SyntaxError as exc:
                r.add(
                    file,
                    _item_line(raw.get("args"), i) or line,
                    f"args item {i + 1} is not a Python expression: {exc.msg}",
                )
                ok = False
        kw["args"] = tuple(args)
    elif kind in ("heldout", "structure", "losses", "mode"):
        ok = _training_check(r, file, raw, kind, target, defined, kw) and ok
    else:
        try:
            free = safe_expr.free_names(target)
        except safe_expr.UnsafeExpression as exc:
            why = str(exc)
            r.add(file, tline, f"assert is {why}" if why.startswith("not a") else f"assert: {why}")
            return None
        kw["assert_"] = target
        if "uses" in raw:
            uses = _str_list(r, file, raw["uses"], _key_line(raw, "uses"), "uses")
            missing = [n for n in free if n not in uses and not n.startswith("_")]
            if missing:
                r.add(
                    file,
                    _key_line(raw, "uses"),
                    f"assert reads {', '.join(missing)} but uses does not list it",
                )
                ok = False
        else:
            uses = free
        try:
            # The grader evaluates asserts with grading.safe_expr only: refuse here, with
            # the line, whatever it would refuse there (dunders, imports, other calls...).
            safe_expr.validate(target, uses)
        except safe_expr.UnsafeExpression as exc:
            r.add(file, tline, f"assert refused: {exc}")
            return None
        for name in uses:
            if defined is not None and name.split(".")[0] not in defined:
                r.add(
                    file,
                    _key_line(raw, "uses") or tline,
                    f"assert uses {name!r}, but the reference solution (with setup) "
                    "does not define it",
                )
                ok = False
        kw["uses"] = tuple(uses)

    if "points" in raw:
        points = _as_float(raw["points"])
        if points is None or points <= 0 or not math.isfinite(points):
            r.add(file, _key_line(raw, "points"), "points must be a positive number")
            ok = False
        else:
            kw["points"] = points
    for key in ("rtol", "atol"):
        if key in raw:
            tol = _as_float(raw[key])
            if tol is None or tol < 0:
                r.add(file, _key_line(raw, key), f"{key} must be a number ≥ 0")
                ok = False
            else:
                kw[key] = tol
    for key in ("hidden", "values", "nonconstant"):
        if key in raw:
            if not isinstance(raw[key], bool):
                r.add(file, _key_line(raw, key), f"{key} must be true or false")
                ok = False
            else:
                kw[key] = raw[key]
    if "label" in raw:
        if not isinstance(raw["label"], str):
            r.add(file, _key_line(raw, "label"), "label must be text")
            ok = False
        else:
            kw["label"] = raw["label"]
    if "storage" in raw:
        if raw["storage"] not in STORAGE_VALUES:
            r.add(
                file,
                _key_line(raw, "storage"),
                f"storage must be one of: {', '.join(STORAGE_VALUES)}",
            )
            ok = False
        else:
            kw["storage"] = raw["storage"]
    if "separate_from" in raw:
        other = raw["separate_from"]
        sline = _key_line(raw, "separate_from")
        if not isinstance(other, str) or not NAME_PATH_RE.match(other):
            r.add(file, sline, "separate_from must be a (dotted) Python name")
            ok = False
        elif defined is not None and other.split(".")[0] not in defined:
            r.add(file, sline, f"separate_from names {other!r}, which setup does not define")
            ok = False
        else:
            kw["separate_from"] = other
    if "trained" in raw:
        steps = raw["trained"]
        if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 10**6:
            r.add(file, _key_line(raw, "trained"), "trained must be a whole number ≥ 1")
            ok = False
        else:
            kw["trained"] = steps
    if "moved" in raw:
        moved = _as_float(raw["moved"])
        if moved is None or not 0 <= moved <= 10 or "trained" not in raw:
            r.add(file, _key_line(raw, "moved"),
                  "moved must be a number between 0 and 10, with trained")  # fmt: skip
            ok = False
        else:
            kw["moved"] = moved
    if "message" in raw:
        kw["message"] = _translations(
            r, file, raw["message"], _key_line(raw, "message"), "check message"
        )
    return CheckSpec(**kw) if ok else None


# --------------------------------------------------------------------------- exercises


def _load_exercise(
    r: _Reader, folder: Path, lesson_slug: str, metas: dict[str, ExerciseMeta] | None = None
) -> ExerciseSpec | None:
    """The exercise's spec; its meta (due, optional, weight) goes into `metas` by slug."""
    file = folder / EXERCISE_FILE
    before = len(r.problems)
    data = r.read_yaml(file)
    code = {name: r.read_text(folder / name) for name in CODE_FILES}
    if data is None:
        return None
    meta = _exercise_meta(r, file, data)

    _unknown_keys(r, file, data, EXERCISE_KEYS, "exercise.yaml")
    for key in REQUIRED_EXERCISE_KEYS:
        if key not in data:
            r.add(file, data.line, f"missing required key {key!r}")

    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        if "slug" in data:
            r.add(file, _key_line(data, "slug"), "slug must look like 'tensor-arange'")
        slug = folder.name
    elif slug != folder.name:
        r.add(
            file,
            _key_line(data, "slug"),
            f"slug {slug!r} differs from the folder name {folder.name!r}",
        )

    title = _translations(r, file, data.get("title"), _key_line(data, "title"), "title")
    prompt = _translations(r, file, data.get("prompt"), _key_line(data, "prompt"), "prompt")

    hints: list[dict[str, str]] = []
    raw_hints = data.get("hints")
    hline = _key_line(data, "hints")
    if raw_hints is not None:
        if not isinstance(raw_hints, list) or not 1 <= len(raw_hints) <= MAX_HINTS:
            r.add(file, hline, f"hints must be a list of 1 to {MAX_HINTS} hints")
        else:
            for i, hint in enumerate(raw_hints):
                hints.append(
                    _translations(r, file, hint, _item_line(raw_hints, i) or hline, f"hint {i + 1}")
                )

    queue = data.get("queue", "cpu")
    if queue not in QUEUES:
        r.add(file, _key_line(data, "queue"), f"queue must be one of: {', '.join(QUEUES)}")

    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        r.add(file, _key_line(data, "seed"), "seed must be an integer")
        seed = 0

    variants = data.get("variants", 0)
    low, high = VARIANTS_RANGE
    if "variants" in data and (isinstance(variants, bool) or not isinstance(variants, int)
                               or not low <= variants <= high):
        r.add(file, _key_line(data, "variants"),
              f"variants must be an integer from {low} to {high} (got {variants!r})")
        variants = 0

    limits: dict[str, float] = {}
    raw_limits = data.get("limits")
    if raw_limits is not None:
        if not isinstance(raw_limits, dict):
            r.add(file, _key_line(data, "limits"), "limits must be a mapping")
        else:
            _unknown_keys(r, file, raw_limits, LIMIT_KEYS, "limits")
            for key, value in raw_limits.items():
                number = _as_float(value)
                top = r.max_limits.get(key)
                if key not in LIMIT_KEYS:
                    continue  # reported by _unknown_keys above
                if number is None or not number > 0:
                    r.add(file, _key_line(raw_limits, key), f"limit {key} must be > 0")
                elif top is not None and number > top:
                    r.add(
                        file,
                        _key_line(raw_limits, key),
                        f"limit {key} is {server_limits.describe(key, number)}, above the "
                        f"server maximum of {server_limits.describe(key, top)}",
                    )
                else:
                    limits[key] = int(number) if float(number).is_integer() else number

    forbidden = _str_list(r, file, data.get("forbidden"), _key_line(data, "forbidden"), "forbidden")
    for i, name in enumerate(forbidden):
        if not DOTTED_RE.match(name):
            r.add(
                file,
                _item_line(data.get("forbidden"), i),
                f"forbidden entry {name!r} must be a dotted name like torch.softmax",
            )

    files: dict[str, str] = {}
    raw_files = data.get("files")
    if raw_files is not None:
        if not isinstance(raw_files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_files.items()
        ):
            r.add(file, _key_line(data, "files"), "files must map relative paths to text")
        else:
            for key in raw_files:
                if key.startswith("/") or ".." in Path(key).parts:
                    r.add(file, _key_line(raw_files, key), f"files path {key!r} must be relative")
            files = dict(raw_files)

    # Static view of what setup + solution define, to catch checks naming nothing.
    defined: set[str] | None = None
    parsed = {
        name: _parse_problem(r, folder / name, text)
        for name, text in code.items()
        if text is not None
    }
    if code["setup.py"] is not None and code["solution.py"] is not None and all(parsed.values()):
        defined = defined_names(code["setup.py"]) | defined_names(code["solution.py"])
        used = attribute_chains(code["solution.py"])
        for name in forbidden:
            if name in used:
                r.add(
                    folder / "solution.py",
                    None,
                    f"the reference solution uses {name}, which the exercise forbids",
                )

    checks: list[CheckSpec] = []
    raw_checks = data.get("checks")
    cline = _key_line(data, "checks")
    if raw_checks is not None:
        if not isinstance(raw_checks, list) or not raw_checks:
            r.add(file, cline, "checks must be a non-empty list")
        else:
            for i, raw in enumerate(raw_checks):
                spec = _check(r, file, raw, _item_line(raw_checks, i) or cline, defined)
                if spec is not None:
                    checks.append(spec)

    if len(r.problems) != before:
        return None
    if metas is not None and meta != ExerciseMeta():
        metas[slug] = meta
    return ExerciseSpec(
        slug=slug,
        lesson=lesson_slug,
        setup=code["setup.py"] or "",
        solution=code["solution.py"] or "",
        starter=code["starter.py"] or "",
        checks=tuple(checks),
        title=title,
        prompt=prompt,
        hints=tuple(hints),
        forbidden=tuple(forbidden),
        queue=queue,
        limits=limits,
        seed=seed,
        files=files,
        variants=variants,
    )


# --------------------------------------------------------------------------- lessons


def placements(prose: str) -> list[tuple[str, int]]:
    """``(exercise slug, line)`` for each ``::: exercise`` marker outside code fences."""
    found: list[tuple[str, int]] = []
    fence: str | None = None
    for number, line in enumerate(prose.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            if fence is None:
                fence = mark
            elif fence == mark:
                fence = None
            continue
        if fence is None:
            match = MARKER_RE.match(stripped)
            if match:
                found.append((match.group(1), number))
            elif MARKER_START_RE.match(stripped):
                found.append(("", number))
    return found


def _load_lesson(r: _Reader, path: Path) -> LessonDoc | None:
    path = Path(path)
    before = len(r.problems)
    file = path / LESSON_FILE
    data = r.read_yaml(file)
    slug = path.name
    order = 0
    title: dict[str, str] = {}
    summary: dict[str, str] = {}
    due = opens = None
    if data is not None:
        _unknown_keys(r, file, data, LESSON_KEYS + OPTIONAL_LESSON_KEYS, "lesson.yaml")
        for key in LESSON_KEYS:
            if key not in data:
                r.add(file, data.line, f"missing required key {key!r}")
        raw_slug = data.get("slug")
        if raw_slug is not None:
            if not isinstance(raw_slug, str) or not SLUG_RE.match(raw_slug):
                r.add(file, _key_line(data, "slug"), "slug must look like 'linear-algebra'")
            elif raw_slug != path.name:
                r.add(
                    file,
                    _key_line(data, "slug"),
                    f"slug {raw_slug!r} differs from the folder name {path.name!r}",
                )
        raw_order = data.get("order")
        if raw_order is not None:
            if isinstance(raw_order, bool) or not isinstance(raw_order, int):
                r.add(file, _key_line(data, "order"), "order must be an integer")
            else:
                order = raw_order
        title = _translations(r, file, data.get("title"), _key_line(data, "title"), "title")
        summary = _translations(r, file, data.get("summary"), _key_line(data, "summary"), "summary")
        due, opens = _moment(r, file, data, "due"), _moment(r, file, data, "opens")
        if due is not None and opens is not None and opens >= due:
            r.add(file, _key_line(data, "opens"), f"opens ({opens.isoformat()}) must be before "
                                                  f"due ({due.isoformat()})")

    prose = {lang: r.read_text(path / f"{lang}.md") for lang in LANGS}

    exercises: dict[str, ExerciseSpec] = {}
    folders: list[Path] = []
    ex_root = path / "exercises"
    if ex_root.is_dir():
        folders = sorted(
            p for p in ex_root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        )
    metas: dict[str, ExerciseMeta] = {}
    for folder in folders:
        spec = _load_exercise(r, folder, slug, metas)
        if spec is not None:
            exercises[spec.slug] = spec
    known = {f.name for f in folders}

    order_by_lang: dict[str, list[str]] = {}
    for lang, text in prose.items():
        if text is None:
            continue
        md = path / f"{lang}.md"
        seen: dict[str, int] = {}
        for ex_slug, line in placements(text):
            if not ex_slug:
                r.add(md, line, "exercise marker needs a slug: '::: exercise <slug>'")
            elif ex_slug not in known:
                r.add(md, line, f"places unknown exercise {ex_slug!r}")
            elif ex_slug in seen:
                r.add(
                    md,
                    line,
                    f"places exercise {ex_slug!r} a second time (first on line {seen[ex_slug]})",
                )
            else:
                seen[ex_slug] = line
        for ex_slug in sorted(known - set(seen)):
            r.add(md, None, f"exercise {ex_slug!r} is never placed ('::: exercise {ex_slug}')")
        order_by_lang[lang] = list(seen)
    if len(order_by_lang) == len(LANGS):
        first, *others = (order_by_lang[lang] for lang in LANGS)
        for lang, other in zip(LANGS[1:], others, strict=True):
            if set(other) == set(first) and other != first:
                r.add(
                    path / f"{lang}.md",
                    None,
                    f"exercises are placed in a different order than in {LANGS[0]}.md",
                )

    if len(r.problems) != before:
        return None
    return LessonDoc(
        slug=slug,
        order=order,
        title=title,
        summary=summary,
        prose={lang: text or "" for lang, text in prose.items()},
        exercises=tuple(exercises[s] for s in order_by_lang[LANGS[0]]),
        path=path,
        due=due,
        opens=opens,
        meta=metas,
    )


def load_lesson(path: Path, *, max_limits: dict[str, float] | None = None) -> LessonDoc:
    """Load one lesson folder; raise LessonFormatError listing every problem.

    ``max_limits``: the server maxima of exercise limits (default: ``grading.limits``,
    i.e. ``settings.SANDBOX_MAX_LIMITS`` in a Django process)."""
    r = _Reader(max_limits)
    doc = _load_lesson(r, Path(path))
    if r.problems or doc is None:
        raise LessonFormatError(r.problems)
    return doc


def lesson_folders(root: Path) -> list[Path]:
    """Lesson folders under root (folders starting with '.' or '_' are ignored)."""
    return sorted(
        p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def load_course(root: Path, *, max_limits: dict[str, float] | None = None) -> list[LessonDoc]:
    """Load every lesson under root, sorted by order; raise with ALL problems found."""
    root = Path(root)
    r = _Reader(max_limits)
    if not root.is_dir():
        raise LessonFormatError([Problem(root, None, "lesson folder does not exist")])
    docs: list[LessonDoc] = []
    for folder in lesson_folders(root):
        doc = _load_lesson(r, folder)
        if doc is not None:
            docs.append(doc)

    orders: dict[int, str] = {}
    owners: dict[str, str] = {}
    for doc in docs:
        if doc.order in orders:
            r.add(
                doc.path / LESSON_FILE,
                None,
                f"order {doc.order} is also used by lesson {orders[doc.order]!r}",
            )
        orders.setdefault(doc.order, doc.slug)
        for spec in doc.exercises:
            if spec.slug in owners:
                r.add(
                    doc.path / "exercises" / spec.slug / EXERCISE_FILE,
                    None,
                    f"duplicate exercise slug {spec.slug!r} (also in lesson {owners[spec.slug]!r})",
                )
            owners.setdefault(spec.slug, doc.slug)
    if r.problems:
        raise LessonFormatError(r.problems)
    return sorted(docs, key=lambda d: (d.order, d.slug))


# --------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    pass


def _str_repr(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (prompts, hints) reads best as a literal block.
    if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_repr)


def _check_dict(check: CheckSpec) -> dict[str, Any]:
    defaults = CheckSpec()
    out: dict[str, Any] = {}
    for f in fields(CheckSpec):
        value = getattr(check, f.name)
        if value == getattr(defaults, f.name):
            continue
        key = "assert" if f.name == "assert_" else f.name
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, dict):
            value = dict(value)
        out[key] = value
    return out


def exercise_dict(spec: ExerciseSpec, meta: ExerciseMeta | None = None) -> dict[str, Any]:
    """The exercise.yaml content for a spec and its meta (defaults left out)."""
    out: dict[str, Any] = {
        "slug": spec.slug,
        "title": dict(spec.title),
        "prompt": dict(spec.prompt),
        "hints": [dict(h) for h in spec.hints],
        "queue": spec.queue,
    }
    if spec.seed:
        out["seed"] = spec.seed
    if spec.variants:
        out["variants"] = spec.variants
    if spec.limits:
        out["limits"] = dict(spec.limits)
    if spec.forbidden:
        out["forbidden"] = list(spec.forbidden)
    if spec.files:
        out["files"] = dict(spec.files)
    if meta is not None:
        if meta.due is not None:
            out["due"] = meta.due.isoformat()
        if meta.optional:
            out["optional"] = True
        if meta.weight != 1.0:
            out["weight"] = meta.weight
    out["checks"] = [_check_dict(c) for c in spec.checks]
    return out


def _dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def dump_lesson(doc: LessonDoc, root: Path) -> Path:
    """Write a lesson folder under root; return its path. load(dump(x)) == x."""
    path = Path(root) / doc.slug
    path.mkdir(parents=True, exist_ok=True)
    lesson = {
        "slug": doc.slug,
        "order": doc.order,
        "title": dict(doc.title),
        "summary": dict(doc.summary),
    }
    if doc.due is not None:
        lesson["due"] = doc.due.isoformat()
    if doc.opens is not None:
        lesson["opens"] = doc.opens.isoformat()
    (path / LESSON_FILE).write_text(_dump_yaml(lesson), encoding="utf-8")
    for lang in LANGS:
        (path / f"{lang}.md").write_text(doc.prose.get(lang, ""), encoding="utf-8")
    for spec in doc.exercises:
        folder = path / "exercises" / spec.slug
        folder.mkdir(parents=True, exist_ok=True)
        text = _dump_yaml(exercise_dict(spec, doc.meta.get(spec.slug)))
        (folder / EXERCISE_FILE).write_text(text, encoding="utf-8")
        (folder / "setup.py").write_text(spec.setup, encoding="utf-8")
        (folder / "starter.py").write_text(spec.starter, encoding="utf-8")
        (folder / "solution.py").write_text(spec.solution, encoding="utf-8")
    return path
