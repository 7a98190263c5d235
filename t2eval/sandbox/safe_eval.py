"""Evaluate an assert template (from :mod:`transform`) in the parent, on box values.

A tiny AST interpreter, not ``eval``: it knows only constants, containers, operators,
conditional expressions, placeholders for box values (``__o:J``) and whitelisted
functions (``__f:NAME``). Operators that could make the parent spend unbounded time
or memory on values chosen by the box (huge powers, shifts, repetitions) are refused.
Evaluation is lazy like Python's (``and``/``or``/``if``/chained comparisons), so a box
value that raised only matters when the original test would have used it.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Callable, Sequence

from .safe_names import SAFE_OBJECTS
from .transform import OPAQUE_PREFIX, SAFE_PREFIX

MAX_REPEAT = 10_000_000
MAX_POW_EXPONENT = 10_000
MAX_SHIFT = 100_000


class Refused(Exception):
    """The template asked for something the parent will not compute."""


class BoxValueError(Exception):
    """An opaque part raised (or could not be sent) in the box.

    Attributes:
        index: int, which opaque part.
        message: str, the box's error text.
        kind: str, the exception type name in the box.
    """

    def __init__(self, index: int, message: str, kind: str):
        super().__init__(f"opaque part {index} raised in the box: {message}")
        self.index, self.message, self.kind = index, message, kind


def _size(x: Any) -> int:
    return len(x) if isinstance(x, (str, bytes, list, tuple)) else 1


def _mult(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and _size(seq) * n > MAX_REPEAT:
            raise Refused("sequence repetition too large")
    return operator.mul(a, b)


def _pow(a: Any, b: Any, mod: Any = None) -> Any:
    if isinstance(a, int) and isinstance(b, int) and mod is None and abs(b) > MAX_POW_EXPONENT and abs(a) > 1:
        raise Refused("integer power too large")
    return pow(a, b, mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(b, int) and b > MAX_SHIFT:
        raise Refused("shift too large")
    return operator.lshift(a, b)


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: _mult, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _pow, ast.LShift: _lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_, ast.MatMult: operator.matmul,
}
_UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_SAFE_CALLS = dict(SAFE_OBJECTS, pow=_pow)


class _Evaluator:
    def __init__(self, values: Sequence[dict]):
        self.values = values

    def opaque(self, index: int) -> Any:
        from .codec import decode

        record = self.values[index]
        if "err" in record:
            raise BoxValueError(index, str(record["err"]), str(record.get("type", "")))
        return decode(record["ok"])

    def name(self, node: ast.Name) -> Any:
        if node.id.startswith(OPAQUE_PREFIX):
            return self.opaque(int(node.id[len(OPAQUE_PREFIX):]))
        if node.id.startswith(SAFE_PREFIX):
            return _SAFE_CALLS[node.id[len(SAFE_PREFIX):]]
        raise Refused(f"unknown name {node.id!r}")

    def ev(self, node: ast.expr) -> Any:
        method = getattr(self, "ev_" + type(node).__name__, None)
        if method is None:
            raise Refused(f"cannot evaluate {type(node).__name__} outside the box")
        return method(node)

    def ev_Constant(self, node):
        return node.value

    def ev_Name(self, node):
        return self.name(node)

    def ev_Tuple(self, node):
        return tuple(self.ev(e) for e in node.elts)

    def ev_List(self, node):
        return [self.ev(e) for e in node.elts]

    def ev_Set(self, node):
        return {self.ev(e) for e in node.elts}

    def ev_Dict(self, node):
        return {self.ev(k): self.ev(v) for k, v in zip(node.keys, node.values)}

    def ev_BinOp(self, node):
        return _BINOPS[type(node.op)](self.ev(node.left), self.ev(node.right))

    def ev_UnaryOp(self, node):
        return _UNARY[type(node.op)](self.ev(node.operand))

    def ev_BoolOp(self, node):
        want = isinstance(node.op, ast.Or)
        value = None
        for sub in node.values:
            value = self.ev(sub)
            if bool(value) == want:
                return value
        return value

    def ev_IfExp(self, node):
        return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)

    def ev_Compare(self, node):
        left = self.ev(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.ev(right_node)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def ev_Call(self, node):
        func = self.ev(node.func)
        if not any(func is f for f in _SAFE_CALLS.values()):
            raise Refused("call of a function that is not whitelisted")
        args = [self.ev(a) for a in node.args]
        kwargs = {k.arg: self.ev(k.value) for k in node.keywords}
        return func(*args, **kwargs)


def evaluate(template: ast.expr, values: Sequence[dict]) -> Any:
    """Evaluate ``template`` with the box's values for its opaque parts.

    Args:
        template: ast.expr from :class:`transform.AssertSite`.
        values: sequence of ``{"ok": encoded}`` or ``{"err": text, "type": name}``.
    Returns:
        The value of the assert's test (the caller takes its truth).
    Raises:
        BoxValueError: a needed opaque part raised in the box.
        Refused: the template needs something the parent does not compute.
        codec.CorruptValue: a value was malformed.
        Exception: whatever the comparison itself raises (e.g. TypeError).
    """
    return _Evaluator(values).ev(template)
