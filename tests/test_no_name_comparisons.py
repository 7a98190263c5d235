"""No decisions by comparing registered names with string literals.

Objectives and training methods are registered classes (``t2eval.train.objectives.OBJECTIVES``,
``t2eval.train.policy.METHODS``): code looks a name up and asks the object, it never writes
``cfg.objective == "rl"`` or ``method in ("lora", "dora")``. This test walks ``t2eval/`` with
``ast`` and fails on any comparison (``==``, ``!=``, ``is``, ``is not``; ``in`` / ``not in`` a
tuple, list or set literal; a ``match`` case) between an expression whose name ends with one
of ``RULES``' suffixes (``cfg.objective``, ``self.method``, ``method``, ``values["method"]``,
``values.get("method")``) and a string literal, outside the files that rule allows.

To cover another kind of name, add a ``(suffix, {file: why})`` pair to ``RULES``.
"""

from __future__ import annotations

import ast

import pytest

from conftest import REPO

PACKAGE = REPO / "t2eval"

#: (name suffix, {file relative to the repository: why it may compare such names with literals})
RULES: list[tuple[str, dict[str, str]]] = [
    ("objective", {}),
    ("strategy", {}),
    ("method", {
        # the report's rows: `method` is a results row's kind (base, prompt, cls, an expert
        # method), read from results files, not a training method of the registry
        "t2eval/report/tables.py": "results rows: base-model rows vs adapted ones",
        "t2eval/report/figures.py": "results rows: pass-1 decision rows (prompt, cls)",
    }),
]

EQUALITY = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)
MEMBERSHIP = (ast.In, ast.NotIn)


def _name(node: ast.AST) -> str | None:
    """The name an expression stands for: ``x``, ``a.x``, ``a["x"]``, ``a.get("x", ...)``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and _is_str(node.slice):
        return node.slice.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and node.args and _is_str(node.args[0])):
        return node.args[0].value
    return None


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _named(node: ast.AST, suffix: str) -> bool:
    name = _name(node)
    return name is not None and name.lower().endswith(suffix)


def _string_collection(node: ast.AST) -> bool:
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(_is_str(e) for e in node.elts)


def _string_pattern(pattern: ast.AST) -> bool:
    if isinstance(pattern, ast.MatchValue):
        return _is_str(pattern.value)
    if isinstance(pattern, ast.MatchOr):
        return any(_string_pattern(p) for p in pattern.patterns)
    if isinstance(pattern, ast.MatchAs) and pattern.pattern is not None:
        return _string_pattern(pattern.pattern)
    return False


def name_comparisons(source: str, suffix: str) -> list[int]:
    """Line numbers of the comparisons of a ``*suffix`` name with string literals in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:]):
                if isinstance(op, EQUALITY) and ((_named(left, suffix) and _is_str(right))
                                                 or (_named(right, suffix) and _is_str(left))):
                    lines.append(node.lineno)
                elif isinstance(op, MEMBERSHIP) and _named(left, suffix) and _string_collection(right):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Match) and _named(node.subject, suffix):
            lines += [case.pattern.lineno for case in node.cases if _string_pattern(case.pattern)]
    return sorted(set(lines))


def hits(suffix: str) -> dict[str, list[str]]:
    """{file: ["line: code", ...]} over the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        code = source.splitlines()
        lines = name_comparisons(source, suffix)
        if lines:
            found[path.relative_to(REPO).as_posix()] = [f"{n}: {code[n - 1].strip()}" for n in lines]
    return found


@pytest.mark.parametrize("suffix, allowed", RULES, ids=[suffix for suffix, _ in RULES])
def test_no_string_comparisons_of_registered_names(suffix, allowed):
    bad = {path: found for path, found in hits(suffix).items() if path not in allowed}
    listing = "\n".join(f"  {path}:{line}" for path, found in bad.items() for line in found)
    assert not bad, (f"names ending in {suffix!r} compared with string literals (look the name up in its "
                     f"registry and ask the object instead):\n{listing}")


@pytest.mark.parametrize("suffix, allowed", RULES, ids=[suffix for suffix, _ in RULES])
def test_allow_list_names_only_files_that_need_it(suffix, allowed):
    found = hits(suffix)
    stale = [path for path in allowed if path not in found]
    assert not stale, f"{stale} no longer compare {suffix!r} names with literals: remove them from RULES"


def test_the_check_sees_every_form():
    caught = '''
if cfg.objective == "rl": pass
if "svf" != self.method: pass
if method in ("lora", "dora"): pass
if peft_method not in ["ia3"]: pass
if values.get("method") == "lora-rl": pass
if values["objective"] is "sft": pass
match cfg.method:
    case "svf" | "lora":
        pass
'''
    assert name_comparisons(caught, "objective") == [2, 7]
    assert name_comparisons(caught, "method") == [3, 4, 5, 6, 9]
    fine = '''
if cfg.objective == other: pass
if method in METHODS: pass
if cfg.method_count == 1: pass
if method.decomposes: pass
if cfg.engine == "vllm": pass
if x == "method": pass
match cfg.method:
    case Policy(): pass
'''
    assert name_comparisons(fine, "objective") == [] and name_comparisons(fine, "method") == []
