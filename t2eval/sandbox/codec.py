"""Parent side of the value channel: turn the box's JSON back into plain values.

The box encodes with :func:`t2eval.sandbox._boot.encode`; this module rebuilds only
built-in / standard-library value types, so nothing that comes out of the box can
carry a custom ``__eq__``. Anything malformed raises :class:`CorruptValue`.
"""

from __future__ import annotations

import collections
import decimal
import fractions
from typing import Any

MAX_DEPTH = 101


class CorruptValue(ValueError):
    """The box sent data that is not a valid encoding."""


def _pairs(items: Any, depth: int) -> list[tuple[Any, Any]]:
    if not isinstance(items, list):
        raise CorruptValue("expected a list of pairs")
    out = []
    for pair in items:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise CorruptValue("expected a [key, value] pair")
        out.append((decode(pair[0], depth), decode(pair[1], depth)))
    return out


def _seq(items: Any, depth: int) -> list[Any]:
    if not isinstance(items, list):
        raise CorruptValue("expected a list")
    return [decode(x, depth) for x in items]


def _int_hex(text: Any) -> int:
    if not isinstance(text, str) or len(text) > 1_000_000:
        raise CorruptValue("bad big int")
    return int(text, 16)


def _complex(v: Any) -> complex:
    if not (isinstance(v, list) and len(v) == 2 and all(type(x) in (int, float) for x in v)):
        raise CorruptValue("bad complex")
    return complex(v[0], v[1])


def _range(v: Any) -> range:
    if not (isinstance(v, list) and len(v) == 3 and all(type(x) is int for x in v)):
        raise CorruptValue("bad range")
    return range(*v)


def _fraction(v: Any, depth: int) -> fractions.Fraction:
    if not (isinstance(v, list) and len(v) == 2):
        raise CorruptValue("bad Fraction")
    num, den = decode(v[0], depth), decode(v[1], depth)
    if type(num) is not int or type(den) is not int or den == 0:
        raise CorruptValue("bad Fraction")
    return fractions.Fraction(num, den)


def _decimal(v: Any) -> decimal.Decimal:
    if not isinstance(v, str) or len(v) > 100_000:
        raise CorruptValue("bad Decimal")
    return decimal.Decimal(v)


_TAGGED = {
    "t": lambda v, d: tuple(_seq(v, d)),
    "s": lambda v, d: set(_seq(v, d)),
    "fs": lambda v, d: frozenset(_seq(v, d)),
    "d": lambda v, d: dict(_pairs(v, d)),
    "od": lambda v, d: collections.OrderedDict(_pairs(v, d)),
    "ctr": lambda v, d: collections.Counter(dict(_pairs(v, d))),
    "dd": lambda v, d: collections.defaultdict(None, _pairs(v, d)),
    "dq": lambda v, d: collections.deque(_seq(v, d)),
    "b": lambda v, d: bytes.fromhex(v) if isinstance(v, str) else _bad("bytes"),
    "I": lambda v, d: _int_hex(v),
    "c": lambda v, d: _complex(v),
    "r": lambda v, d: _range(v),
    "dec": lambda v, d: _decimal(v),
    "fr": _fraction,
}


def _bad(what: str):
    raise CorruptValue(f"bad {what}")


def decode(data: Any, depth: int = 0) -> Any:
    """Rebuild a value from the box's encoding.

    Args:
        data: one JSON-decoded value as written by ``_boot.encode``.
        depth: recursion depth (internal).
    Returns:
        A value made only of built-in / stdlib types.
    Raises:
        CorruptValue: malformed data, too deep, or unhashable set/dict members.
    """
    depth += 1
    if depth > MAX_DEPTH:
        raise CorruptValue("value nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(x, depth) for x in data]
    if type(data) is dict and len(data) == 1:
        tag, value = next(iter(data.items()))
        builder = _TAGGED.get(tag)
        if builder is None:
            raise CorruptValue(f"unknown tag {tag!r}")
        try:
            return builder(value, depth)
        except CorruptValue:
            raise
        except (TypeError, ValueError, decimal.InvalidOperation) as exc:
            raise CorruptValue(f"bad {tag!r} value: {exc}") from None
    raise CorruptValue(f"unexpected {type(data).__name__} in value stream")
