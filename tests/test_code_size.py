"""The size limits of planner/: no module over 400 lines, no function over 60, no class over 250.

A module, function or class over its limit must be listed in EXCEPTIONS with the reason it must be
so; a new one fails this test, and so does an exception that no longer exceeds its limit (the list
stays true). Lines are counted as written (docstrings and comments included), functions and
classes from their `def`/`class` line to their last line.
"""

from __future__ import annotations

import ast
from pathlib import Path

PLANNER = Path(__file__).resolve().parent.parent / "planner"
LIMITS = {"module": 400, "function": 60, "class": 250}

# "kind path[:qualified name]" -> why it is over its limit.
EXCEPTIONS = {
    "module planner/ansible/project.py": "the Ansible generator's variables, README and file layout; the "
                                         "variables (the _Writer class) should move to a module of their own, "
                                         "in a change of its own (issue 15 grew it with schedules and keys)",
    "class planner/ansible/project.py:_Writer": "one writer per generated project: links, organisations, tools, "
                                                "schedules; split with its module",
    "function planner/ansible/runner.py:apply_project": "one ansible-runner call with its event and status "
                                                        "handlers as closures over the run's progress bar",
    "module planner/cli.py": "one typer command per entry point, each a few lines; the Ansible commands (generate, "
                             "apply, bundle, init) could move to a module of their own",
    "module planner/langdoc.py": "the language reference generator: one table per section of the language, read "
                                 "by looking a section up",
    "module planner/estate.py": "one job, resolution: the Estate types (~170 lines) and the resolver that builds "
                                "them (~230); splitting types from resolver is possible but touches every importer "
                                "of planner.estate, so it waits for a change of its own",
    "module planner/load.py": "one job, reading a file safely with positions: the fast and the reference YAML "
                              "composers, syntax-error positions and the builder with its expansion bounds; the "
                              "builder could move out, in a change of its own",
    "function planner/load.py:_Builder.check_expansion": "one walk measuring the three expansion bounds together "
                                                         "(values, alias extras, depth) before anything is expanded",
    "module planner/model.py": "the topology language as pydantic models, one class per section of the "
                               "specification: a catalogue, read by looking a section up",
    "module planner/render/graph.py": "the diagram model with its detailed and collapsed layouts, which share "
                                      "the module's node, edge and label helpers",
}


def _sizes() -> dict[str, int]:
    """"kind path[:qualified name]" -> lines, for everything over its limit."""
    over: dict[str, int] = {}
    for path in sorted(PLANNER.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(PLANNER.parent).as_posix()
        if text.count("\n") > LIMITS["module"]:
            over[f"module {name}"] = text.count("\n")
        _walk(ast.parse(text).body, name, "", over)
    return over


def _walk(body: list[ast.stmt], name: str, prefix: str, over: dict[str, int]) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            qualified = f"{prefix}{node.name}"
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > LIMITS[kind]:
                over[f"{kind} {name}:{qualified}"] = lines
            _walk(node.body, name, f"{qualified}.", over)


def test_nothing_new_exceeds_the_size_limits() -> None:
    new = {key: lines for key, lines in _sizes().items() if key not in EXCEPTIONS}
    assert not new, (f"over the limits {LIMITS}: {new}; split them, or add them to EXCEPTIONS in "
                     "tests/test_code_size.py with the reason they must be so")


def test_every_exception_still_exceeds_its_limit() -> None:
    stale = sorted(set(EXCEPTIONS) - set(_sizes()))
    assert not stale, f"no longer over the limits, remove from EXCEPTIONS: {stale}"


def test_the_measure_counts_what_it_should(tmp_path: Path) -> None:
    """The walk finds methods inside classes and nested functions (so an exception cannot hide one)."""
    body = "\n".join(f"    x{n} = {n}" for n in range(61))
    tree = ast.parse(f"class A:\n    def f(self):\n{body.replace('    ', '        ')}\n")
    over: dict[str, int] = {}
    _walk(tree.body, "m.py", "", over)
    assert over == {"function m.py:A.f": 62}
