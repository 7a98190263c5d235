"""Names chosen from a fixed set: one "did you mean" for every unknown name."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` — did you mean 'x'?`` for the closest of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return f" — did you mean '{close[0]}'?" if close else ""


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to ``name``, or None."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None
