"""One generic registry: name -> class (or any object), used for strategies, pass-1 modes,
training objectives, training methods and benchmarks.

* ``register`` refuses a second entry under a taken name (a collision is a bug, not an override);
* ``get`` on an unknown name says which names exist and the closest one ("did you mean");
* an entry may be a lazy ``"module:attr"`` string, imported on first ``get`` (so a registry can
  name classes whose modules need optional dependencies without importing them).

Decisions are made by looking a name up here and asking the object, never by comparing the
name with string literals elsewhere.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, TypeVar

from .names import did_you_mean

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name that is not registered (the message lists the valid ones)."""


class Registry(Generic[T]):
    """Named entries of one kind (``what``: "strategy", "objective", ...)."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T | str] = {}

    def register(self, name: str | None = None, target: T | str | None = None) -> Callable[[T], T] | T:
        """``@registry.register()`` (uses the class's ``name``), ``@registry.register("x")``, or
        ``registry.register("x", "pkg.module:Class")`` (lazy). A name already taken is an error."""
        if target is not None:
            self._add(name, target)
            return target

        def decorate(obj: T) -> T:
            self._add(name or getattr(obj, "name"), obj)
            return obj

        return decorate

    def _add(self, name: str, target) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} needs a non-empty name, got {name!r}")
        if name in self._entries and self._entries[name] is not target:
            raise ValueError(f"{self.what} '{name}' is registered twice "
                             f"({self._describe(self._entries[name])} and {self._describe(target)})")
        self._entries[name] = target

    @staticmethod
    def _describe(target) -> str:
        return target if isinstance(target, str) else f"{target.__module__}.{getattr(target, '__qualname__', target)}"

    def get(self, name: str) -> T:
        """The entry called ``name`` (a lazy one is imported now); unknown: a clear error."""
        if name not in self._entries:
            raise UnknownNameError(f"unknown {self.what} {name!r}{did_you_mean(name, self._entries)}; "
                                   f"valid: {', '.join(self._entries) or '(none registered)'}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
