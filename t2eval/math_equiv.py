"""Mathematical equivalence of final answers (MATH-style LaTeX), under a hard time limit.

The model writes its final answer in ``\\boxed{...}``; the reference is a LaTeX answer
(MATH: the last ``\\boxed{}`` of the solution; MATH-500: the ``answer`` field). Two
answers are equivalent when

1. their conservative string normal forms (:func:`normalize_answer`) are equal, or
2. `math-verify <https://github.com/huggingface/Math-Verify>`_ (sympy based) parses both
   and finds them mathematically equal: ``\\frac{1}{2}`` = ``0.5`` = ``\\dfrac12``,
   ``2\\sqrt{2}`` = ``\\sqrt{8}``, ``x=3`` = ``3``, intervals, sets, matrices, ...

Step 2 runs in a long-lived worker subprocess (``python -m t2eval.math_equiv``), so that

- a pathological answer (``9^{9^{9}}``, ``(10^8)!``) can never hang the caller: math-verify's
  own signal timeouts stop most of them inside the worker, and the parent kills and
  replaces the worker when a request outlives its wall-clock deadline (C code that
  ignores signals included);
- it works from any thread (math-verify's signal timeouts only work in a main thread);
- the worker's address space is capped (``WORKER_MEMORY_MB``).

Public API::

    last_boxed(text: str) -> str | None
    normalize_answer(answer: str) -> str
    is_equivalent(gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> bool
    MathChecker  (one worker; ``check(gold, pred, timeout) -> Judgement``; ``close()``)
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

#: wall-clock seconds one comparison may take before the worker is killed.
DEFAULT_TIMEOUT = 10.0
#: math-verify's own (signal) limit, seconds, for parsing one answer and for comparing.
PARSE_TIMEOUT = 3
VERIFY_TIMEOUT = 3
#: address-space cap of the worker process, MiB.
WORKER_MEMORY_MB = 4096
#: answers longer than this are not parsed (never equivalent unless equal as strings).
MAX_ANSWER_CHARS = 2000
_STARTUP_TIMEOUT = 120.0

_BOX_COMMANDS = ("\\boxed", "\\fbox")


# ----------------------------------------------------------------------------- extraction


def _braced(text: str, start: int) -> str | None:
    """The content of the ``{...}`` group opening at ``text[start]`` (str), or None if unbalanced."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
    return None


def _box_at(text: str, pos: int, command: str) -> str | None:
    """The argument of ``command`` (``\\boxed``) found at ``text[pos]``: ``{...}`` or ``\\boxed 5``."""
    rest = pos + len(command)
    if rest < len(text) and text[rest].isalpha():  # \boxedfoo is another command
        return None
    while rest < len(text) and text[rest] == " ":
        rest += 1
    if rest < len(text) and text[rest] == "{":
        return _braced(text, rest)
    if rest > pos + len(command):  # "\boxed 5": up to the next space, $ or end
        token = re.match(r"[^\s$]+", text[rest:])
        return token.group(0) if token else None
    return None


def last_boxed(text: str) -> str | None:
    """The argument of the last ``\\boxed{...}`` (or ``\\fbox{...}``, ``\\boxed 5``) in ``text``.

    Args:
        text: str, a model response or a MATH solution.
    Returns:
        str | None: the content with nested braces kept (``\\frac{1}{2}``), stripped;
        None when there is no complete box.
    """
    found = sorted((m.start(), command) for command in _BOX_COMMANDS
                   for m in re.finditer(re.escape(command), text))
    for pos, command in reversed(found):
        content = _box_at(text, pos, command)
        if content is not None:
            return content.strip()
    return None


# ----------------------------------------------------------------------------- string normal form

_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox)\{([^{}]*)\}")
_DROP = (r"\left", r"\right", r"\!", r"\,", r"\;", r"\:", r"\ ", "$", r"\displaystyle")


def normalize_answer(answer: str) -> str:
    """A conservative string normal form: equal forms always mean equal answers.

    Drops spacing, ``\\left``/``\\right``, ``$``, text wrappers (``\\text{(C)}`` -> ``(C)``),
    a trailing period, ``^\\circ`` and ``^{\\circ}``; ``\\dfrac``/``\\tfrac`` -> ``\\frac``;
    lower-cases. It never changes a number's value or an interval's brackets.

    Args:
        answer: str, one final answer (no surrounding prose).
    Returns:
        str: the normal form.
    """
    text = answer
    for _ in range(3):  # nested \text{\textbf{..}}
        text = _TEXT_COMMAND.sub(r"\1", text)
    for token in _DROP:
        text = text.replace(token, "")
    text = text.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac")
    text = text.replace("^{\\circ}", "").replace("^\\circ", "")
    text = re.sub(r"\s+", "", text).rstrip(".").lower()
    return text


# ----------------------------------------------------------------------------- worker side


def _parse(answer: str) -> list:
    """math-verify's parse of one bare answer (str) as LaTeX, with its signal timeout."""
    from math_verify import parse

    return parse(f"${answer}$", parsing_timeout=PARSE_TIMEOUT)


def verify_in_process(gold: str, pred: str) -> bool:
    """math-verify's judgement of two bare answers, in this process (main thread only).

    Args:
        gold: str, the reference answer (math-verify is not symmetric: gold first).
        pred: str, the model's answer.
    Returns:
        bool: True when math-verify finds them equal.
    """
    from math_verify import verify

    if len(gold) > MAX_ANSWER_CHARS or len(pred) > MAX_ANSWER_CHARS:
        return False
    gold_parsed, pred_parsed = _parse(gold), _parse(pred)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=VERIFY_TIMEOUT))


def _cap_memory() -> None:
    try:
        import resource

        limit = WORKER_MEMORY_MB * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _worker_main() -> None:
    """Serve JSON lines ``{"gold", "pred"}`` -> ``{"equal": bool, "error": str|None}`` until EOF."""
    import logging

    logging.disable(logging.WARNING)  # math-verify logs every timeout
    _cap_memory()
    import math_verify  # noqa: F401  (fail now, visibly, if missing)

    out = os.fdopen(os.dup(1), "w")  # the protocol channel; stray prints go to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"equal": verify_in_process(request["gold"], request["pred"]), "error": None}
        except BaseException as exc:  # MemoryError, RecursionError, sympy internals
            reply = {"equal": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


# ----------------------------------------------------------------------------- parent side


class MathCheckerError(RuntimeError):
    """The equivalence worker could not be started (e.g. math-verify is not installed)."""


@dataclass(frozen=True)
class Judgement:
    """The outcome of one comparison.

    Attributes:
        equal: bool, True when the answers are judged equivalent.
        how: str, ``string`` (normal forms equal), ``math-verify``, ``timeout`` (worker
            killed), ``crashed`` (worker died) or ``error`` (math-verify raised).
        detail: str, the error text when there is one.
    """

    equal: bool
    how: str
    detail: str = ""


class MathChecker:
    """One math-verify worker process, shared by threads (requests are serialised)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._pid = os.getpid()  # a forked child must not share its parent's worker pipes

    def _start(self) -> subprocess.Popen:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)  # this very t2eval
        with tempfile.TemporaryFile("w+") as errors:  # a file, so a chatty worker never blocks
            proc = subprocess.Popen([sys.executable, "-m", "t2eval.math_equiv"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
            ready = self._read_line(proc, _STARTUP_TIMEOUT)
            if ready is None or not json.loads(ready).get("ready"):
                proc.kill()
                proc.wait()
                errors.seek(0)
                raise MathCheckerError(f"the math-verify worker did not start "
                                       f"(is `math-verify` installed?):\n{errors.read()[-2000:]}")
        return proc

    @staticmethod
    def _read_line(proc: subprocess.Popen, timeout: float) -> str | None:
        """One line from the worker within ``timeout`` seconds, else None (timeout or EOF)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                line = proc.stdout.readline()
                return line or None

    def _kill(self) -> None:
        if self._proc is not None and self._pid == os.getpid():
            self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                stream.close()
            self._proc = None

    def close(self) -> None:
        """Stop the worker (a later `check` starts a new one)."""
        with self._lock:
            self._kill()

    def _ask(self, gold: str, pred: str, timeout: float) -> Judgement:
        if self._pid != os.getpid():
            self._proc, self._pid = None, os.getpid()
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            self._proc = self._start()
        try:
            self._proc.stdin.write(json.dumps({"gold": gold, "pred": pred}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self._kill()
            return Judgement(False, "crashed", str(exc))
        line = self._read_line(self._proc, timeout)
        if line is None:
            dead = self._proc.poll() is not None
            self._kill()
            return Judgement(False, "crashed" if dead else "timeout",
                             "worker died" if dead else f"no answer within {timeout:g} s")
        reply = json.loads(line)
        if reply.get("error"):
            return Judgement(False, "error", reply["error"])
        return Judgement(bool(reply["equal"]), "math-verify")

    def check(self, gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> Judgement:
        """Judge ``pred`` against ``gold``; returns within about ``timeout`` seconds.

        Args:
            gold: str, the reference answer (bare LaTeX, no ``\\boxed``).
            pred: str, the model's answer (bare LaTeX).
            timeout: float, wall-clock seconds for the math-verify step (the first call
                also waits for the worker to start).
        Returns:
            Judgement.
        Raises:
            MathCheckerError: the worker cannot start.
        """
        if normalize_answer(gold) == normalize_answer(pred) and normalize_answer(gold):
            return Judgement(True, "string")
        with self._lock:
            return self._ask(gold, pred, timeout)


_DEFAULT: MathChecker | None = None
_DEFAULT_LOCK = threading.Lock()


def default_checker() -> MathChecker:
    """The process-wide checker (its worker starts on first use, stops at exit)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MathChecker()
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def is_equivalent(gold: str, pred: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when ``pred`` is mathematically equivalent to ``gold``.

    Args:
        gold: str, the reference answer (bare LaTeX).
        pred: str, the model's answer (bare LaTeX).
        timeout: float, wall-clock seconds before the comparison counts as not equal.
    Returns:
        bool.
    Raises:
        MathCheckerError: the math-verify worker cannot start.
    """
    return default_checker().check(gold, pred, timeout).equal


if __name__ == "__main__":
    _worker_main()
