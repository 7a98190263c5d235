"""Split test code so that expected values stay outside the box.

Every ``assert TEST[, MSG]`` in the test module becomes, in the copy sent to the box::

    __t2_report(K, lambda: OPAQUE_0, lambda: OPAQUE_1, ...)

and, in the parent, a *template*: TEST with each opaque part replaced by a
placeholder. The box computes the opaque parts and sends their values out; the parent
evaluates the template on them (:mod:`t2eval.sandbox.safe_eval`). A sub-expression
stays in the parent when it is a literal, a container display, an operator
(``== < in is and not + - * ...``), a conditional expression, or a call of a
whitelisted function (:mod:`t2eval.sandbox.safe_names`, e.g. ``abs``, ``sorted``,
``set``, ``math.isclose``) that the test module does not rebind. Anything else
(calls of the solution, variables, attribute access, subscripts, comprehensions) is
opaque and runs in the box. So for ``assert f([3, 1]) == [1, 3]`` the box sees only
``f([3, 1])``; for ``assert abs(candidate(2.0) - 1.5) < 1e-6`` only
``candidate(2.0)``. Opaque parts used only for their truth value (``assert f(x)``,
``assert not f(x)``) are sent as ``not not (...)``, a bool.

An expected value that is itself computed by test code in the box (HumanEval/38's
``assert candidate(encoded) == str`` where ``str`` is a random local) is opaque too,
so it is computed in the box: such asserts are still compared outside, but a solution
that inspects its caller's frame could read that one value.

Asserts outside any ``if``/``while``/``try``/``with``/``match`` are *required*: the
parent fails a run where a required assert never reported.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from .safe_names import SAFE_MODULES, SAFE_OBJECTS

REPORT = "__t2_report"
OPAQUE_PREFIX = "__o:"
SAFE_PREFIX = "__f:"
_PARENT_OPS = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple, ast.List, ast.Set,
               ast.Dict, ast.Constant)
_CONDITIONAL = (ast.If, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match, ast.AsyncFor)


@dataclass(frozen=True)
class AssertSite:
    """One assert of the test module.

    Attributes:
        index: int, K in ``__t2_report(K, ...)``.
        source: str, the original assert statement (for messages).
        template: ast.expr, the test with ``__o:J``/``__f:NAME`` placeholder names.
        opaque: tuple[str, ...], source text of each opaque part, in order.
        required: bool, must report at least once for a pass.
    """

    index: int
    source: str
    template: ast.expr
    opaque: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class SplitTests:
    """The result of :func:`split_tests`.

    Attributes:
        box_source: str, the test module for the box (no asserts, no expected literals
            outside opaque parts).
        sites: tuple[AssertSite, ...], indexed by K.
    """

    box_source: str
    sites: tuple[AssertSite, ...]


def _bound_and_imports(tree: ast.AST) -> tuple[set[str], dict[str, str]]:
    """Names the test module binds (other than imports) and import aliases."""
    bound: set[str] = set()
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound, imports


class _Splitter:
    """Build one assert's template and its list of opaque expressions."""

    def __init__(self, bound: set[str], imports: dict[str, str]):
        self.bound, self.imports = bound, imports
        self.opaque: list[ast.expr] = []

    def qualified(self, node: ast.expr) -> str | None:
        """``"math.isclose"`` for a safe Name/Attribute the parent may use, else None."""
        if isinstance(node, ast.Name):
            if node.id in self.bound:
                return None
            name = self.imports.get(node.id, node.id)
            return name if name in SAFE_OBJECTS or name in SAFE_MODULES else None
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            if base in SAFE_MODULES and f"{base}.{node.attr}" in SAFE_OBJECTS:
                return f"{base}.{node.attr}"
        return None

    def make_opaque(self, node: ast.expr, truth: bool) -> ast.expr:
        if truth:
            node = ast.UnaryOp(ast.Not(), ast.UnaryOp(ast.Not(), node))
        self.opaque.append(node)
        return ast.Name(f"{OPAQUE_PREFIX}{len(self.opaque) - 1}", ast.Load())

    def visit(self, node: ast.expr, truth: bool = False) -> ast.expr:
        name = self.qualified(node)
        if name is not None and name in SAFE_OBJECTS:
            return ast.Name(f"{SAFE_PREFIX}{name}", ast.Load())
        if isinstance(node, ast.Call) and self._safe_call(node):
            return ast.Call(self.visit(node.func), [self.visit(a) for a in node.args],
                            [ast.keyword(k.arg, self.visit(k.value)) for k in node.keywords])
        if not isinstance(node, _PARENT_OPS) or self._has_unpacking(node):
            return self.make_opaque(node, truth)
        return self._visit_operator(node, truth)

    def _visit_operator(self, node: ast.expr, truth: bool) -> ast.expr:
        v = self.visit
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Compare):
            return ast.Compare(v(node.left), node.ops, [v(c) for c in node.comparators])
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(node.op, [v(x, truth) for x in node.values])
        if isinstance(node, ast.UnaryOp):
            return ast.UnaryOp(node.op, v(node.operand, isinstance(node.op, ast.Not)))
        if isinstance(node, ast.BinOp):
            return ast.BinOp(v(node.left), node.op, v(node.right))
        if isinstance(node, ast.IfExp):
            return ast.IfExp(v(node.test, True), v(node.body, truth), v(node.orelse, truth))
        if isinstance(node, ast.Dict):
            return ast.Dict([v(k) for k in node.keys], [v(x) for x in node.values])
        if isinstance(node, ast.Set):
            return ast.Set([v(x) for x in node.elts])
        return type(node)([v(x) for x in node.elts], ast.Load())

    def _safe_call(self, node: ast.Call) -> bool:
        if self.qualified(node.func) not in SAFE_OBJECTS:
            return False
        args = list(node.args) + [k.value for k in node.keywords]
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            return False
        return not any(isinstance(a, (ast.Lambda, ast.GeneratorExp)) for a in args)

    @staticmethod
    def _has_unpacking(node: ast.expr) -> bool:
        if isinstance(node, ast.Dict):
            return any(k is None for k in node.keys)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(isinstance(e, ast.Starred) for e in node.elts)
        return False


def _report_call(index: int, opaque: list[ast.expr]) -> ast.Expr:
    thunks = [ast.Lambda(ast.arguments([], [], None, [], [], None, []), expr) for expr in opaque]
    return ast.Expr(ast.Call(ast.Name(REPORT, ast.Load()), [ast.Constant(index)] + thunks, []))


class _AssertRewriter(ast.NodeTransformer):
    def __init__(self, source: str, bound: set[str], imports: dict[str, str]):
        self.source, self.bound, self.imports = source, bound, imports
        self.sites: list[AssertSite] = []
        self.depth = 0

    def generic_visit(self, node):
        conditional = isinstance(node, _CONDITIONAL)
        self.depth += conditional
        try:
            return super().generic_visit(node)
        finally:
            self.depth -= conditional

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        splitter = _Splitter(self.bound, self.imports)
        template = splitter.visit(node.test, truth=True)
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        site = AssertSite(len(self.sites), text, template,
                          tuple(ast.unparse(e) for e in splitter.opaque), self.depth == 0)
        self.sites.append(site)
        return ast.copy_location(_report_call(site.index, splitter.opaque), node)


@functools.lru_cache(maxsize=4096)
def split_tests(test_source: str, opaque_names: frozenset[str] = frozenset()) -> SplitTests:
    """Split a test module (cached by its arguments).

    Args:
        test_source: str, Python source whose ``assert`` statements are the tests.
        opaque_names: frozenset[str], names that must run in the box even if they are
            whitelisted (the function under test when it is called e.g. ``sum``).
    Returns:
        SplitTests.
    Raises:
        SyntaxError: the test source does not parse.
    """
    tree = ast.parse(test_source)
    bound, imports = _bound_and_imports(tree)
    bound |= opaque_names
    rewriter = _AssertRewriter(test_source, bound, imports)
    new_tree = ast.fix_missing_locations(rewriter.visit(tree))
    return SplitTests(ast.unparse(new_tree), tuple(rewriter.sites))


def _called_names(tree: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def infer_entry_point(test_source: str) -> str | None:
    """The function under test when the tests call only whitelisted names.

    MBPP has tasks whose function shadows a builtin (task 126 defines ``sum``). When no
    called name is outside the whitelist, the function under test must be one of
    them: take the outermost call on the left of the first assert's comparison.
    Returns None when some called name is not whitelisted (the usual case), so a
    solution cannot pull ``abs``/``sorted`` & co. into the box by redefining them.
    """
    try:
        tree = ast.parse(test_source)
    except SyntaxError:
        return None
    if any(name not in SAFE_OBJECTS for name in _called_names(tree)):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            test = node.test.left if isinstance(node.test, ast.Compare) else node.test
            if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
                return test.func.id
            return None
    return None
