"""One place that turns argument strings (``--model_args k=v`` of ``--model t2``, ``key=value``
settings of ``t2eval train``) into typed values, with errors that name the argument, the value
and what is allowed."""

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


_KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "tuple": (tuple, list)}


def as_annotated(name: str, value, annotation: str, error: type[Exception] = ValueError):
    """``value`` with the type a dataclass field declares (``annotation``, e.g. ``"int | None"``):
    none/null for an optional field, numbers parsed from text, an int where a float is asked;
    anything else that does not fit raises ``error`` naming the setting and the expected type
    (at parse time: a wrong type must not surface minutes into a run)."""
    kinds = [k.strip() for k in annotation.split("|")]
    if "None" in kinds and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
        return None
    if isinstance(value, str):  # numbers left as text, e.g. 1e-3
        for kind, parse in (("int", int), ("float", float)):
            if kind in kinds:
                try:
                    value = parse(value)
                    break
                except ValueError:
                    pass
    for kind in kinds:
        allowed = _KINDS.get(kind)
        if allowed is None:
            return value  # a type this check does not know: left to the caller's validation
        if isinstance(value, allowed) and not (isinstance(value, bool) and kind in ("int", "float")):
            return float(value) if kind == "float" else value
    raise error(f"{name}={value!r}: expected {annotation.replace('None', 'none')}")
