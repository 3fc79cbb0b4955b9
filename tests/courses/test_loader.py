"""Lesson-file loader: the real course loads; each malformed file is reported with file:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from courses.loader import (
    LessonDoc,
    LessonFormatError,
    Problem,
    defined_names,
    dump_lesson,
    load_course,
    load_lesson,
    placements,
)

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "lessons"

LESSON_YAML = """\
slug: demo
order: 1
title:
  en: Demo
  zh-hans: 演示
summary:
  en: A demo lesson.
  zh-hans: 一个演示课程。
"""

EXERCISE_YAML = """\
slug: demo-ex
title:
  en: Demo exercise
  zh-hans: 演示练习
prompt:
  en: Define `x`.
  zh-hans: 定义 `x`。
hints:
  - en: Use torch.arange.
    zh-hans: 使用 torch.arange。
queue: cpu
checks:
  - name: x
    points: 2
  - call: double
    args: ["torch.ones(2)"]
  - assert: "x.sum() == 6"
    message:
      en: x should sum to 6.
      zh-hans: x 的和应为 6。
"""


def write_lesson(root: Path, slug: str = "demo", order: int = 1, ex: str = "demo-ex") -> Path:
    path = root / slug
    folder = path / "exercises" / ex
    folder.mkdir(parents=True)
    (path / "lesson.yaml").write_text(
        LESSON_YAML.replace("slug: demo", f"slug: {slug}").replace("order: 1", f"order: {order}"),
        encoding="utf-8",
    )
    (path / "en.md").write_text(f"# Demo\n\nText.\n\n::: exercise {ex}\n", encoding="utf-8")
    (path / "zh-hans.md").write_text(f"# 演示\n\n正文。\n\n::: exercise {ex}\n", encoding="utf-8")
    (folder / "exercise.yaml").write_text(
        EXERCISE_YAML.replace("slug: demo-ex", f"slug: {ex}"), encoding="utf-8"
    )
    (folder / "setup.py").write_text("import torch\n", encoding="utf-8")
    (folder / "starter.py").write_text("x = None\n", encoding="utf-8")
    (folder / "solution.py").write_text(
        "x = torch.arange(4)\n\ndef double(t):\n    return 2 * t\n", encoding="utf-8"
    )
    return path


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_lesson(tmp_path)


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(file: Path, needle: str) -> int:
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {file}")


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(LessonFormatError) as info:
        load_lesson(path)
    assert info.value.problems, "a LessonFormatError must carry problems"
    return info.value.problems


def find(problems: list[Problem], fragment: str) -> Problem:
    hits = [p for p in problems if fragment in p.message]
    assert hits, f"no problem mentions {fragment!r}: {[str(p) for p in problems]}"
    return hits[0]


# --------------------------------------------------------------------------- a valid folder


def test_demo_loads(demo: Path) -> None:
    doc = load_lesson(demo)
    assert isinstance(doc, LessonDoc)
    assert doc.title == {"en": "Demo", "zh-hans": "演示"}
    (spec,) = doc.exercises
    assert spec.slug == "demo-ex" and spec.lesson == "demo"
    assert spec.max_score == 4.0
    assert spec.checks[0].points == 2.0
    assert spec.checks[1].args == ("torch.ones(2)",)
    assert spec.checks[2].assert_ == "x.sum() == 6"
    assert spec.checks[2].uses == ("x",)  # inferred from the expression
    assert spec.checks[2].message["zh-hans"] == "x 的和应为 6。"
    assert spec.solution.startswith("x = torch.arange(4)")


def test_exercises_follow_the_order_of_placement(tmp_path: Path) -> None:
    path = write_lesson(tmp_path, ex="b-ex")
    shutil.copytree(path / "exercises" / "b-ex", path / "exercises" / "a-ex")
    edit(path / "exercises" / "a-ex" / "exercise.yaml", "slug: b-ex", "slug: a-ex")
    for lang in ("en", "zh-hans"):
        with (path / f"{lang}.md").open("a", encoding="utf-8") as f:
            f.write("\n::: exercise a-ex\n")
    assert [e.slug for e in load_lesson(path).exercises] == ["b-ex", "a-ex"]


# --------------------------------------------------------------------------- malformed files


def test_unknown_key_in_exercise(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\npionts: 3")
    p = find(problems_of(demo), "unknown key 'pionts'")
    assert p.file == file and p.line == line_of(file, "pionts")


def test_unknown_key_in_lesson(demo: Path) -> None:
    file = demo / "lesson.yaml"
    edit(file, "order: 1", "order: 1\nauthor: me")
    p = find(problems_of(demo), "unknown key 'author'")
    assert p.file == file and p.line == 3


def test_missing_translation_of_prompt(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "  zh-hans: 定义 `x`。\n", "")
    p = find(problems_of(demo), "missing zh-hans translation of prompt")
    assert p.file == file and p.line == line_of(file, "Define `x`")


def test_missing_translation_of_hint_and_title_and_message(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "    zh-hans: 使用 torch.arange。\n", "")
    edit(file, "  en: Demo exercise\n", "")
    edit(file, "      en: x should sum to 6.\n", "")
    problems = problems_of(demo)
    assert find(problems, "missing zh-hans translation of hint 1").line == line_of(
        file, "Use torch.arange"
    )
    assert find(problems, "missing en translation of title").line == line_of(file, "演示练习")
    assert find(problems, "missing en translation of check message").line == line_of(
        file, "x 的和应为 6"
    )


def test_missing_translation_in_lesson_yaml(demo: Path) -> None:
    file = demo / "lesson.yaml"
    edit(file, "  zh-hans: 一个演示课程。\n", "")
    p = find(problems_of(demo), "missing zh-hans translation of summary")
    assert p.file == file and p.line == line_of(file, "A demo lesson")


def test_missing_prose_file(demo: Path) -> None:
    (demo / "zh-hans.md").unlink()
    p = find(problems_of(demo), "file is missing")
    assert p.file == demo / "zh-hans.md"


def test_bad_queue(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: tpu")
    p = find(problems_of(demo), "queue must be one of: cpu, gpu, any")
    assert p.file == file and p.line == line_of(file, "queue: tpu")


def test_check_with_two_kinds(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "  - name: x\n", "  - name: x\n    call: double\n")
    kinds = "name, call, assert, heldout, structure, losses, mode"
    p = find(problems_of(demo), f"exactly one of {kinds} (found: name, call)")
    assert p.file == file and p.line == line_of(file, "- name: x")


def test_check_with_no_kind(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "  - name: x\n    points: 2\n", "  - points: 2\n")
    kinds = "name, call, assert, heldout, structure, losses, mode"
    p = find(problems_of(demo), f"exactly one of {kinds} (found: none)")
    assert p.line == line_of(file, "- points: 2")


def test_unknown_check_option(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "    points: 2\n", "    points: 2\n    tolerance: 0.1\n")
    p = find(problems_of(demo), "unknown check option 'tolerance'")
    assert p.file == file and p.line == line_of(file, "tolerance")


def test_check_option_of_another_kind(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "    points: 2\n", "    points: 2\n    args: ['1']\n")
    p = find(problems_of(demo), "unknown check option 'args' (not valid for a name check)")
    assert p.line == line_of(file, "args: ['1']")


def test_check_names_an_undefined_variable(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "  - name: x\n", "  - name: y.grad\n")
    p = find(problems_of(demo), "does not define 'y'")
    assert p.file == file and p.line == line_of(file, "name: y.grad")


def test_call_check_of_an_undefined_function(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "call: double", "call: triple")
    p = find(problems_of(demo), "check calls 'triple'")
    assert p.line == line_of(file, "call: triple")


def test_assert_uses_an_undefined_variable(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, '"x.sum() == 6"', '"w.sum() == 6"')
    p = find(problems_of(demo), "assert uses 'w'")
    assert p.line == line_of(file, "w.sum()")


def test_bad_points_and_storage(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "    points: 2\n", "    points: -1\n    storage: moved\n")
    problems = problems_of(demo)
    assert find(problems, "points must be a positive number").line == line_of(file, "points: -1")
    assert find(problems, "storage must be one of").line == line_of(file, "storage: moved")


def test_too_many_hints(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    hint = "  - en: Use torch.arange.\n    zh-hans: 使用 torch.arange。\n"
    edit(file, hint, hint * 4)
    p = find(problems_of(demo), "hints must be a list of 1 to 3 hints")
    assert p.line == line_of(file, "hints:")


def test_malformed_yaml_gives_file_and_line(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: [cpu")
    p = find(problems_of(demo), "malformed YAML")
    assert p.file == file
    assert p.line is not None and p.line >= line_of(file, "queue: [cpu")


def test_malformed_yaml_tab_indent(demo: Path) -> None:
    file = demo / "lesson.yaml"
    edit(file, "  zh-hans: 演示\n", "\tzh-hans: 演示\n")
    p = find(problems_of(demo), "malformed YAML")
    assert p.file == file and p.line == line_of(file, "\tzh-hans")


def test_duplicate_yaml_key(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\nqueue: gpu")
    p = find(problems_of(demo), "duplicate key 'queue'")
    assert p.line == line_of(file, "queue: gpu")


def test_syntax_error_in_solution(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "solution.py"
    file.write_text("x = torch.arange(4)\ny = (\n", encoding="utf-8")
    p = find(problems_of(demo), "Python syntax error")
    assert p.file == file and p.line is not None


def test_missing_code_file(demo: Path) -> None:
    (demo / "exercises" / "demo-ex" / "starter.py").unlink()
    p = find(problems_of(demo), "file is missing")
    assert p.file == demo / "exercises" / "demo-ex" / "starter.py"


def test_exercise_not_placed(demo: Path) -> None:
    edit(demo / "zh-hans.md", "::: exercise demo-ex\n", "")
    p = find(problems_of(demo), "never placed")
    assert p.file == demo / "zh-hans.md"


def test_exercise_placed_twice(demo: Path) -> None:
    md = demo / "en.md"
    with md.open("a", encoding="utf-8") as f:
        f.write("\nMore.\n\n::: exercise demo-ex\n")
    p = find(problems_of(demo), "a second time (first on line 5)")
    assert p.file == md and p.line == 9


def test_unknown_exercise_placed(demo: Path) -> None:
    md = demo / "en.md"
    with md.open("a", encoding="utf-8") as f:
        f.write("\n::: exercise nope\n")
    p = find(problems_of(demo), "places unknown exercise 'nope'")
    assert p.file == md and p.line == line_of(md, "nope")


def test_marker_inside_code_fence_is_ignored() -> None:
    prose = "a\n```markdown\n::: exercise x\n```\n::: exercise y\n"
    assert placements(prose) == [("y", 5)]


def test_slug_differs_from_folder(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "slug: demo-ex", "slug: other-ex")
    p = find(problems_of(demo), "differs from the folder name 'demo-ex'")
    assert p.line == 1


def test_forbidden_call_in_reference_is_reported(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\nforbidden: [torch.arange]")
    p = find(problems_of(demo), "uses torch.arange, which the exercise forbids")
    assert p.file == demo / "exercises" / "demo-ex" / "solution.py"


def test_course_collects_all_problems_and_duplicates(tmp_path: Path) -> None:
    write_lesson(tmp_path, "one", 1, "same-ex")
    two = write_lesson(tmp_path, "two", 2, "same-ex")
    bad = write_lesson(tmp_path, "three", 3, "third-ex")
    edit(bad / "exercises" / "third-ex" / "exercise.yaml", "queue: cpu", "queue: tpu")
    edit(bad / "lesson.yaml", "order: 3", "order: 2")
    with pytest.raises(LessonFormatError) as info:
        load_course(tmp_path)
    problems = info.value.problems
    dup = find(problems, "duplicate exercise slug 'same-ex'")
    assert dup.file == two / "exercises" / "same-ex" / "exercise.yaml"
    assert find(problems, "queue must be one of").file.parent.name == "third-ex"
    # Every problem is printable as file:line: message.
    assert all(str(p).startswith(str(tmp_path)) for p in problems)


def test_course_reports_duplicate_order(tmp_path: Path) -> None:
    write_lesson(tmp_path, "one", 1, "a-ex")
    write_lesson(tmp_path, "two", 1, "b-ex")
    with pytest.raises(LessonFormatError) as info:
        load_course(tmp_path)
    find(info.value.problems, "order 1 is also used by lesson 'one'")


def test_course_sorted_by_order(tmp_path: Path) -> None:
    write_lesson(tmp_path, "zeta", 1, "a-ex")
    write_lesson(tmp_path, "alpha", 2, "b-ex")
    assert [d.slug for d in load_course(tmp_path)] == ["zeta", "alpha"]


# --------------------------------------------------------------------------- static analysis


def test_defined_names() -> None:
    code = (
        "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
        "a, (b, *c) = 1, (2, 3)\nd += 1\nfor i in range(3):\n    e = i\n"
        "def f():\n    hidden = 1\nclass K: pass\nwith open('x') as fh: pass\n"
        "if (g := 3): pass\n[comp for comp in ()]\n"
    )
    assert defined_names(code) == {
        "torch", "F", "nn", "a", "b", "c", "d", "i", "e", "f", "K", "fh", "g",
    }  # fmt: skip


# --------------------------------------------------------------------------- round trip


def test_round_trip_demo(demo: Path, tmp_path: Path) -> None:
    doc = load_lesson(demo)
    out = dump_lesson(doc, tmp_path / "out")
    again = load_lesson(out)
    assert again == doc
    assert again.path == out


def test_round_trip_real_course(tmp_path: Path) -> None:
    docs = load_course(LESSONS)
    for doc in docs:
        dump_lesson(doc, tmp_path)
    again = load_course(tmp_path)
    assert again == docs
    # and a second dump is byte-identical (stable output)
    second = tmp_path / "second"
    for doc in again:
        dump_lesson(doc, second)
    for file in (tmp_path / docs[0].slug).rglob("*"):
        if file.is_file():
            twin = second / file.relative_to(tmp_path)
            assert twin.read_bytes() == file.read_bytes()


def test_missing_required_key(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    text = file.read_text(encoding="utf-8")
    file.write_text(text[: text.index("checks:")], encoding="utf-8")
    p = find(problems_of(demo), "missing required key 'checks'")
    assert p.file == file and p.line == 1


def test_unknown_limit_and_bad_value(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\nlimits:\n  cpu_seconds: 0\n  gpu_seconds: 3")
    problems = problems_of(demo)
    assert find(problems, "limit cpu_seconds must be > 0").line == line_of(file, "cpu_seconds")
    assert find(problems, "unknown key 'gpu_seconds' in limits").line == line_of(file, "gpu_")


def test_limits_seed_and_yaml_float_strings(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: any\nseed: 3\nlimits:\n  cpu_seconds: 10")
    edit(file, "    points: 2\n", "    points: 2\n    atol: 1e-5\n")
    (spec,) = load_lesson(demo).exercises
    assert (spec.queue, spec.seed, spec.limits) == ("any", 3, {"cpu_seconds": 10})
    assert spec.checks[0].atol == 1e-5  # YAML 1.1 reads "1e-5" as text; accepted as a number


# --------------------------------------------------------------------------- limits: maxima


def test_limits_above_the_server_maxima_are_refused_with_the_numbers(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(
        file,
        "queue: cpu",
        "queue: cpu\nlimits:\n  memory_bytes: 68719476736\n  wall_seconds: 3600\n"
        "  disk_bytes: 1e12\n  cpu_seconds: .inf\n  gpu_memory_fraction: 1.5\n"
        "  output_bytes: 65536",
    )
    problems = problems_of(demo)
    memory = find(problems, "limit memory_bytes is 64 GiB, above the server maximum of 4 GiB")
    assert memory.file == file and memory.line == line_of(file, "memory_bytes")
    wall = find(problems, "limit wall_seconds is 3600 s, above the server maximum of 60 s")
    assert wall.line == line_of(file, "wall_seconds")
    assert find(problems, "limit disk_bytes is").line == line_of(file, "disk_bytes")
    assert find(problems, "limit cpu_seconds is inf s").line == line_of(file, "cpu_seconds")
    assert find(problems, "limit gpu_memory_fraction is 1.5, above the server maximum of 1")
    assert not [p for p in problems if "output_bytes" in p.message]  # within its maximum


def test_limit_maxima_can_be_passed_in(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\nlimits:\n  cpu_seconds: 20")
    (spec,) = load_lesson(demo).exercises  # within the default maximum (30 s)
    assert spec.limits == {"cpu_seconds": 20}
    with pytest.raises(LessonFormatError, match="above the server maximum of 10 s"):
        load_lesson(demo, max_limits={"cpu_seconds": 10})
    with pytest.raises(LessonFormatError, match="above the server maximum of 10 s"):
        load_course(demo.parent, max_limits={"cpu_seconds": 10})


def test_limit_maxima_follow_django_settings(demo: Path, settings) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", "queue: cpu\nlimits:\n  memory_bytes: 2147483648")
    settings.SANDBOX_MAX_LIMITS = {**settings.SANDBOX_MAX_LIMITS, "memory_bytes": 2**30}
    p = find(problems_of(demo), "limit memory_bytes is 2 GiB, above the server maximum of 1 GiB")
    assert p.line == line_of(file, "memory_bytes")


def test_every_sandbox_limit_has_a_maximum() -> None:
    from dataclasses import fields

    from courses.loader import LIMIT_KEYS
    from grading.limits import DEFAULT_MAX_LIMITS
    from sandbox import Limits

    assert set(LIMIT_KEYS) == {f.name for f in fields(Limits)} == set(DEFAULT_MAX_LIMITS)
    defaults = Limits()
    for key, top in DEFAULT_MAX_LIMITS.items():
        assert getattr(defaults, key) <= top, key  # the defaults are always allowed


# --------------------------------------------------------------------------- assert: safe only


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("__import__('os').system('id') == 0", "'__import__' is not allowed"),
        ("().__class__.__bases__", "'__class__' is not allowed"),
        ("x.__class__.__mro__", "'__class__' is not allowed"),
        ("open('/etc/passwd').read() == ''", "'open'"),
        ("torch.load('/tmp/x') is None", "torch.load is not an allowed function"),
        ("[v for v in x] == []", "a comprehension is not allowed"),
    ],
)
def test_unsafe_assert_is_refused_with_its_line(demo: Path, expression: str, fragment) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, '"x.sum() == 6"', f'"{expression}"')
    p = find(problems_of(demo), fragment)
    assert p.file == file and p.line == line_of(file, "- assert:")
    assert p.message.startswith("assert refused:") or "assert reads" in p.message


def test_unsafe_assert_with_explicit_uses_is_refused(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, '"x.sum() == 6"', '"x.sum().__class__ is not None"\n    uses: [x]')
    p = find(problems_of(demo), "assert refused: the attribute '__class__' is not allowed")
    assert p.line == line_of(file, "- assert:")


def test_every_shipped_assert_passes_the_safe_evaluator() -> None:
    from grading import safe_expr

    asserts = [
        c
        for doc in load_course(LESSONS)
        for spec in doc.exercises
        for c in spec.checks
        if c.assert_
    ]
    assert asserts
    for check in asserts:
        safe_expr.validate(check.assert_, check.uses)


def test_trained_and_moved_options(demo: Path) -> None:
    file = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "    points: 2\n", "    points: 2\n    trained: 0\n    moved: 0.5\n")
    problems = problems_of(demo)
    assert find(problems, "trained must be a whole number").line == line_of(file, "trained: 0")
    edit(file, "    trained: 0\n    moved: 0.5\n", "    moved: 0.5\n")
    assert find(problems_of(demo), "moved must be a number between 0 and 10, with trained")
