"""Judge a solution against assert-style tests, deciding outside the box.

The box runs the solution and the *split* test module (:mod:`transform`): it only
computes the opaque parts of each assert and sends their values through the result
pipe. The parent evaluates each assert's template on those values
(:mod:`safe_eval`). So:

- expected literals never enter the box (the box cannot read or print them);
- a returned object with an always-true ``__eq__`` cannot leave the box (only plain
  values are serialised), builtins patched in the box are not the parent's;
- exiting early (``sys.exit(0)``, ``os._exit(0)``), printing a fake marker, or
  writing fake records cannot pass: a pass needs the ``done`` record *and* exit status
  0 *and* a report from every required assert *and* every reported assert true.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec import CorruptValue
from .config import Limits
from .probe import require_layers
from .runner import BoxJob, SandboxResult, run_job
from .safe_eval import BoxValueError, Refused, evaluate
from .transform import AssertSite, SplitTests, infer_entry_point, split_tests

DEFAULT_TIMEOUT = 10.0
#: exception types (as named by the box) that mean a resource limit was hit.
RESOURCE_ERRORS = frozenset({"MemoryError", "ResourceLimit"})
_SHOW = 200  # characters of a value shown in a reason


@dataclass
class Verdict:
    """The judgement of one solution.

    Attributes:
        passed: bool, True only when every test ran to its end and held.
        status: str, ``passed``, ``failed`` (an assert was false or raised, or the
            tests raised), ``timeout``, ``crashed`` (the program stopped before the
            tests finished, or the solution did not load), ``killed`` (resource
            limit) or ``error`` (the sandbox could not run: not the solution's fault).
        reason: str, one line.
        asserts_checked: int, assert executions judged by the parent.
        run: SandboxResult | None, the raw run (stdout/stderr, exit code, timing).
    """

    passed: bool
    status: str
    reason: str
    asserts_checked: int = 0
    run: SandboxResult | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """A JSON-ready dict (with the run's dict under ``run``)."""
        return {"passed": self.passed, "status": self.status, "reason": self.reason,
                "asserts_checked": self.asserts_checked, "run": self.run.to_dict() if self.run else None}


class _Fail(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # e.g. an int of more than 4300 digits (Python's int -> str limit)
        return f"<{type(value).__name__} that cannot be shown: {type(exc).__name__}>"
    return text if len(text) <= _SHOW else text[:_SHOW] + "..."


def _values_text(site: AssertSite, values: list[dict]) -> str:
    parts = []
    for expr, record in zip(site.opaque, values):
        shown = record.get("err") if "err" in record else _decoded_preview(record.get("ok"))
        parts.append(f"{expr} -> {shown}")
    return "; ".join(parts)


def _decoded_preview(data: object) -> str:
    from .codec import decode

    try:
        return _short(decode(data))
    except CorruptValue as exc:
        return f"<corrupt: {exc}>"


def _well_formed(value: object) -> bool:
    return isinstance(value, dict) and (set(value) == {"ok"} or "err" in value)


def _check_record(split: SplitTests, record: dict) -> None:
    k, values = record.get("k"), record.get("v")
    if type(k) is not int or not 0 <= k < len(split.sites) or not isinstance(values, list):
        raise _Fail("failed", "the result channel carried a malformed assert record")
    site = split.sites[k]
    if len(values) != len(site.opaque) or not all(_well_formed(v) for v in values):
        raise _Fail("failed", f"malformed values for assert #{k}")
    try:
        ok = bool(evaluate(site.template, values))
    except BoxValueError as exc:
        status = "killed" if exc.kind in RESOURCE_ERRORS else "failed"
        raise _Fail(status, f"{site.source!s} -> {site.opaque[exc.index]} raised {exc.message}") from None
    except (Refused, CorruptValue) as exc:
        raise _Fail("failed", f"{site.source} could not be judged: {exc}") from None
    except Exception as exc:  # the comparison itself raised, as it would have in the box
        raise _Fail("failed", f"{site.source} raised {type(exc).__name__}: {exc}") from None
    if not ok:
        raise _Fail("failed", f"{site.source} is false; {_values_text(site, values)}")


def _first(events: list[dict], kind: str) -> dict | None:
    return next((e for e in events if e.get("ev") == kind), None)


def _check_run(split: SplitTests, run: SandboxResult) -> int:
    if run.status in ("error", "timeout", "killed"):
        raise _Fail(run.status, run.reason)
    records = [e for e in run.events if e.get("ev") == "assert"]
    for record in records:
        _check_record(split, record)
    solution_error = _first(run.events, "solution_error")
    if solution_error:
        kind = "killed" if solution_error.get("type") in RESOURCE_ERRORS else "crashed"
        raise _Fail(kind, f"the solution did not load: {solution_error.get('err')}")
    test_error = _first(run.events, "test_error")
    if test_error:
        kind = "killed" if test_error.get("type") in RESOURCE_ERRORS else "failed"
        raise _Fail(kind, f"the test code raised {test_error.get('err')}")
    if _first(run.events, "done") is None or run.exit_code != 0:
        raise _Fail("crashed", f"the program stopped before the tests finished ({run.reason})")
    if run.channel_error:
        raise _Fail("failed", run.channel_error)
    seen = {r["k"] for r in records}
    missing = [s for s in split.sites if s.required and s.index not in seen]
    if missing:
        raise _Fail("failed", f"{missing[0].source} never ran")
    return len(records)


def judge_program(solution: str, test_source: str, limits: Limits | None = None,
                  strict: bool | None = None, opaque_names: frozenset[str] = frozenset()) -> Verdict:
    """Run ``solution`` then the split ``test_source`` in a box; judge outside.

    Args:
        solution: str, the program under test (runs first, as module ``__sandbox__``).
        test_source: str, test code whose ``assert`` statements are the tests.
        limits: Limits | None, defaults to ``Limits(timeout=10)``.
        strict: bool | None, refuse without OS isolation (None: from the environment).
        opaque_names: frozenset[str], whitelisted names that the tests use for the
            function under test (see :func:`transform.infer_entry_point`).
    Returns:
        Verdict.
    Raises:
        probe.SandboxUnavailable: strict mode and no OS isolation.
    """
    limits = limits or Limits(timeout=DEFAULT_TIMEOUT)
    try:
        split = split_tests(test_source, frozenset(opaque_names))
    except (SyntaxError, ValueError, RecursionError) as exc:
        return Verdict(False, "error", f"the test code cannot be split: {type(exc).__name__}: {exc}")
    layers = require_layers(strict)
    job = BoxJob(files={"solution.py": solution, "tests.py": split.box_source},
                 spec={"mode": "judge", "solution": "solution.py", "tests": "tests.py"})
    run = run_job(job, limits, layers.backend)
    try:
        checked = _check_run(split, run)
    except _Fail as fail:
        return Verdict(False, fail.status, fail.reason, run=run)
    return Verdict(True, "passed", f"all {checked} assert executions held", checked, run)


def _limits(timeout: float, limits: Limits | None) -> Limits:
    return limits.with_(timeout=timeout) if limits is not None else Limits(timeout=timeout)


def check_mbpp(solution_code: str, test_list: list[str], test_setup_code: str = "",
               timeout: float = DEFAULT_TIMEOUT, limits: Limits | None = None,
               strict: bool | None = None) -> Verdict:
    """Judge an MBPP-style solution.

    Args:
        solution_code: str, the generated program (defines the function).
        test_list: list[str], assert statements, e.g. ``"assert f(1) == 2"``.
        test_setup_code: str, code run before the asserts (in the box).
        timeout: float, wall-clock seconds for the whole run.
        limits: Limits | None, other limits (its timeout is replaced by ``timeout``).
        strict: bool | None, see :func:`judge_program`.
    Returns:
        Verdict.
    """
    tests = "\n".join([test_setup_code, *test_list]) + "\n"
    entry = infer_entry_point("\n".join(test_list))
    return judge_program(solution_code, tests, _limits(timeout, limits), strict,
                         frozenset([entry]) if entry else frozenset())


def check_humaneval(completion_program: str, test: str, entry_point: str,
                    timeout: float = DEFAULT_TIMEOUT, limits: Limits | None = None,
                    strict: bool | None = None) -> Verdict:
    """Judge a HumanEval-style program (prompt + completion) with its ``check``.

    Args:
        completion_program: str, the full program (prompt + completion).
        test: str, the problem's test code defining ``check(candidate)``.
        entry_point: str, the function name passed to ``check``.
        timeout, limits, strict: as for :func:`check_mbpp`.
    Returns:
        Verdict.
    """
    if not entry_point.isidentifier():
        raise ValueError(f"entry_point must be an identifier, not {entry_point!r}")
    tests = f"{test}\n\ncheck({entry_point})\n"
    return judge_program(completion_program, tests, _limits(timeout, limits), strict)
