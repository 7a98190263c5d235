"""The functions and constants that the parent may evaluate itself when judging.

Test code like ``assert math.isclose(f(x), 2.5)`` or ``assert sorted(f(x)) == [1, 2]``
is split so that only ``f(x)`` runs in the box; ``math.isclose``/``sorted`` and the
expected values run here, on plain values decoded from the box. Everything listed
here is side-effect free on plain data; a hostile solution that rebinds one of these
names inside the box changes nothing, since the parent uses its own.
"""

from __future__ import annotations

import builtins
import cmath
import collections
import fractions
import math

_BUILTINS = ("abs", "all", "any", "bool", "bytes", "chr", "complex", "dict", "divmod", "enumerate",
             "float", "frozenset", "hex", "int", "isinstance", "len", "list", "max", "min", "oct", "ord",
             "pow", "repr", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "type", "zip")
_MATH = ("isclose", "fabs", "floor", "ceil", "sqrt", "isnan", "isinf", "isfinite", "trunc", "prod",
         "fsum", "pi", "e", "inf", "nan", "tau", "log", "log2", "log10", "exp", "gcd")

#: qualified name -> object, e.g. ``"sorted"``, ``"math.isclose"``.
SAFE_OBJECTS: dict[str, object] = {name: getattr(builtins, name) for name in _BUILTINS}
SAFE_OBJECTS.update({f"math.{name}": getattr(math, name) for name in _MATH})
SAFE_OBJECTS.update({
    "cmath.isclose": cmath.isclose,
    "collections.Counter": collections.Counter,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.deque": collections.deque,
    "fractions.Fraction": fractions.Fraction,
})

#: modules whose attributes may be looked up in SAFE_OBJECTS.
SAFE_MODULES = frozenset({"math", "cmath", "collections", "fractions"})
