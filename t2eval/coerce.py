"""One place that turns argument strings (``--model_args k=v``, ``key=value`` settings) into
typed values, with errors that name the argument, the value and what is allowed."""

from __future__ import annotations

from typing import Iterable

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def as_bool(name: str, value) -> bool:
    """``True``/``False`` from a bool or true/false/1/0/yes/no (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def as_choice(name: str, value, allowed: Iterable[str]) -> str:
    """``value`` when it is one of ``allowed``; else an error listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be {' or '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def as_type(name: str, value, kind: type):
    """``value`` as ``kind`` (bool, int, float, str); None stays None."""
    if value is None or isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is bool:
        return as_bool(name, value)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {'a whole number' if kind is int else 'a number' if kind is float else kind.__name__}, "
                         f"got {value!r}") from None
