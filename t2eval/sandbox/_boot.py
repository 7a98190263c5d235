"""In-box bootstrap: the first code that runs inside the sandbox.

Its source text is handed to ``python -I -S -c`` by :mod:`t2eval.sandbox.runner`,
so it must import nothing but the standard library (the box sees no site-packages)
and must define everything it uses itself. Usage inside the box::

    python -I -S -c <this source> <spec: marshal.dumps(dict).hex()>

It imports no ``json`` (that alone would double the start-up time); records are
written with the small JSON writer below. The spec (a dict) has:

- ``mode``: ``"script"`` (run a file as ``__main__``) or ``"judge"`` (exec a solution,
  then a transformed test module whose asserts call ``__t2_report``);
- ``limits``: ``{"cpu": int s, "as": int bytes, "nproc": int, "fsize": int bytes,
  "nofile": int}``; a value of 0 or a missing key leaves that limit alone;
- ``result_fd``: int, the write end of the result pipe (newline-delimited JSON);
- ``script`` / ``argv0`` / ``args`` / ``cwd`` (script mode) or ``solution`` / ``tests`` (judge mode): paths.

The parent never trusts anything written here: untrusted code runs in this same
process and can write to the result pipe too. The parent only uses the *values*
reported for expressions and compares them with expected values that never enter
the box (see :mod:`t2eval.sandbox.judge`).

This module is also importable in the parent (for :func:`encode`, used in tests).
"""

import marshal
import os
import sys

MAX_DEPTH = 100
_RESULT_FD = -1


class Unserialisable(Exception):
    """A value that cannot leave the box as plain data."""


def _items(pairs, depth):
    return [[encode(k, depth), encode(v, depth)] for k, v in pairs]


def _encode_subclass(v, depth):
    """Encode subclasses of plain containers whose equality is the base's."""
    for base, tag in ((tuple, "t"), (list, None), (dict, "d"), (str, None), (int, None), (float, None)):
        if isinstance(v, base) and type(v).__eq__ is base.__eq__ and type(v).__ne__ is base.__ne__:
            if base is tuple:
                return {"t": [encode(x, depth) for x in tuple.__iter__(v)]}
            if base is list:
                return [encode(x, depth) for x in list.__iter__(v)]
            if base is dict:
                return {"d": _items(dict.items(v), depth)}
            if base is str:
                return str.__str__(v)
            if base is int:
                return encode(int.__index__(v), depth)
            return float.__float__(v)
    raise Unserialisable("cannot send a %s out of the sandbox" % type(v).__qualname__)


def encode(v, depth=0):
    """Encode a plain Python value as JSON-ready data (exact types only).

    Scalars map to JSON scalars (floats keep NaN/inf through Python's json); every
    other type is a one-key object: t tuple, s set, fs frozenset, d dict, b bytes,
    I big int, c complex, od OrderedDict, ctr Counter, dd defaultdict, dq deque,
    r range, dec Decimal, fr Fraction. Lists are JSON arrays.
    Raises Unserialisable for anything else (custom classes, functions, iterators).
    """
    depth += 1
    if depth > MAX_DEPTH:
        raise Unserialisable("value nested deeper than %d levels" % MAX_DEPTH)
    t = type(v)
    if v is None or t is bool or t is str or t is float:
        return v
    if t is int:
        return v if -(2 ** 62) < v < 2 ** 62 else {"I": int.__format__(v, "x")}
    if t is list:
        return [encode(x, depth) for x in v]
    if t is tuple:
        return {"t": [encode(x, depth) for x in v]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(x, depth) for x in v]}
    if t is dict:
        return {"d": _items(v.items(), depth)}
    if t is bytes or t is bytearray:
        return {"b": bytes(v).hex()}
    if t is complex:
        return {"c": [v.real, v.imag]}
    return _encode_special(v, t, depth)


def _encode_special(v, t, depth):
    mod = getattr(t, "__module__", "")
    name = t.__qualname__
    if mod == "collections":
        if name == "OrderedDict":
            return {"od": _items(dict.items(v), depth)}
        if name == "Counter":
            return {"ctr": _items(dict.items(v), depth)}
        if name == "defaultdict":
            return {"dd": _items(dict.items(v), depth)}
        if name == "deque":
            return {"dq": [encode(x, depth) for x in v]}
    if t is range:
        return {"r": [v.start, v.stop, v.step]}
    if mod in ("decimal", "_decimal", "_pydecimal") and name == "Decimal":
        return {"dec": str(v)}
    if mod == "fractions" and name == "Fraction":
        return {"fr": [encode(v.numerator), encode(v.denominator)]}
    return _encode_subclass(v, depth)


_ESCAPES = {i: "\\u%04x" % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})
_FLOATS = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}


def dumps(obj):
    """JSON text for dicts, lists, str, int, float, bool and None (Python's json dialect:
    NaN/Infinity allowed; lone surrogates are written raw, see ``surrogatepass``)."""
    t = type(obj)
    if t is str:
        return '"' + obj.translate(_ESCAPES) + '"'
    if obj is None:
        return "null"
    if t is bool:
        return "true" if obj else "false"
    if t is int:
        return int.__repr__(obj)
    if t is float:
        text = float.__repr__(obj)
        return _FLOATS.get(text, text)
    if t is list or t is tuple:
        return "[" + ",".join([dumps(x) for x in obj]) + "]"
    if t is dict:
        return "{" + ",".join([dumps(str(k)) + ":" + dumps(v) for k, v in obj.items()]) + "}"
    raise TypeError("cannot write %s" % t.__name__)


def _emit(record):
    data = (dumps(record) + "\n").encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        n = os.write(_RESULT_FD, view)
        view = view[n:]


def _error_text(exc):
    try:
        text = "%s: %s" % (type(exc).__name__, exc)
    except BaseException:
        text = type(exc).__name__
    return text[:500]


def _type_name(exc):
    """The exception's type name; ``ResourceLimit`` for a full disk or a too-big file."""
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in (27, 28):  # EFBIG, ENOSPC
        return "ResourceLimit"
    return type(exc).__name__


def _value_of(thunk):
    try:
        return {"ok": encode(thunk())}
    except Unserialisable as exc:
        return {"err": "Unserialisable: %s" % exc, "type": "Unserialisable"}
    except BaseException as exc:  # noqa: B036 - SystemExit/KeyboardInterrupt count too
        return {"err": _error_text(exc), "type": _type_name(exc)}


def report(site, *thunks):
    """Called where an ``assert`` stood: compute the opaque parts, send them out."""
    _emit({"ev": "assert", "k": site, "v": [_value_of(t) for t in thunks]})


def _set_limits(limits):
    import resource

    names = {"cpu": "RLIMIT_CPU", "as": "RLIMIT_AS", "nproc": "RLIMIT_NPROC",
             "fsize": "RLIMIT_FSIZE", "nofile": "RLIMIT_NOFILE", "core": "RLIMIT_CORE"}
    for key, attr in names.items():
        value = limits.get(key)
        if value is None or not hasattr(resource, attr):
            continue
        hard = value + 1 if key == "cpu" else value
        try:
            resource.setrlimit(getattr(resource, attr), (value, hard))
        except (ValueError, OSError) as exc:
            _emit({"ev": "limit_error", "limit": key, "err": _error_text(exc)})


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _flush_and_exit(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


def _exc_event(kind, exc):
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__)
    return {"ev": kind, "err": _error_text(exc), "type": _type_name(exc)}


def run_judge(spec):
    """Exec the solution, then the transformed tests; report ``done`` at the end."""
    ns = {"__name__": "__sandbox__", "__builtins__": __builtins__}
    try:
        code = compile(_read(spec["solution"]), spec["solution"], "exec")
        exec(code, ns)
    except BaseException as exc:  # noqa: B036
        _emit(_exc_event("solution_error", exc))
        _flush_and_exit(1)
    ns["__t2_report"] = report
    try:
        exec(compile(_read(spec["tests"]), spec["tests"], "exec"), ns)
    except BaseException as exc:  # noqa: B036
        _emit(_exc_event("test_error", exc))
        _flush_and_exit(1)
    _emit({"ev": "done"})
    _flush_and_exit(0)


def run_script(spec):
    """Run a file as ``__main__`` like ``python FILE`` would."""
    import builtins

    argv0 = spec.get("argv0") or spec["script"]
    sys.argv = [argv0] + list(spec.get("args", []))
    if spec.get("cwd"):
        os.chdir(spec["cwd"])
        sys.path.insert(0, spec["cwd"])
    module = type(sys)("__main__")
    module.__file__, module.__builtins__ = argv0, builtins
    sys.modules["__main__"] = module
    try:
        exec(compile(_read(spec["script"]), argv0, "exec"), module.__dict__)
    except SystemExit:
        raise
    except (MemoryError, OSError) as exc:
        if _type_name(exc) not in ("MemoryError", "ResourceLimit"):
            raise
        _emit(_exc_event("resource", exc))
        _flush_and_exit(1)


def main(argv):
    global _RESULT_FD
    spec = marshal.loads(bytes.fromhex(argv[1]))
    _RESULT_FD = spec["result_fd"]
    os.set_inheritable(_RESULT_FD, False)
    _set_limits(spec.get("limits", {}))
    _emit({"ev": "start", "pid": os.getpid(), "uid": os.getuid()})
    if spec["mode"] == "judge":
        run_judge(spec)
    else:
        run_script(spec)


if __name__ == "__main__":
    main(sys.argv)
