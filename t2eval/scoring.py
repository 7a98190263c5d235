"""Scoring helpers shared by several benchmarks: code extraction, the reference code format
(a prefilled head the model completes), sandbox judging and pass@k.

Each benchmark's own scorer lives in its module of :mod:`t2eval.benchmarks` (``score_gsm8k``
in ``gsm8k.py``, ``score_mbpp`` in ``mbpp.py``, ...); mathematical equivalence of final
answers is :mod:`t2eval.math_equiv`.
"""

from __future__ import annotations

import ast
import re
from typing import Callable

from t2eval.sandbox import check_many, check_mbpp

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*)\Z", re.DOTALL | re.IGNORECASE)
_PYTHON_TAGS = ("", "python", "python3", "py")


class SandboxFailure(RuntimeError):
    """The sandbox itself could not run a program (Verdict status ``error``): not a wrong answer."""


def defines(code: str, name: str | None) -> bool:
    """Whether ``code`` defines a (possibly async) function called ``name``."""
    return bool(name) and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def extract_code(response: str, entry_point: str | None = None) -> str:
    """The program in a model response.

    Rules, in order: among fenced blocks tagged python/py or untagged, the first one that
    defines ``entry_point`` (else the first such block); an unclosed ```python fence
    (generation cut off) up to the end; otherwise the whole response.

    Args:
        response: str, the model's answer.
        entry_point: str | None, the function the tests call.
    Returns:
        str: code (may be empty, or not Python at all when the model answered in prose).
    """
    blocks = [body for tag, body in _FENCE.findall(response) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        return next((b for b in blocks if defines(b, entry_point)), blocks[0])
    unclosed = _OPEN_FENCE.search(response)
    if unclosed:
        return unclosed.group(1)
    return response.strip("\n")


# ----------------------------------------------------------------------------- sandbox verdicts


def surface(verdict, what: str):
    """``verdict`` unless its status is ``error`` (then raise SandboxFailure)."""
    if verdict.status == "error":
        raise SandboxFailure(f"the sandbox could not judge {what}: {verdict.reason}")
    return verdict


def judge_once_more(run: Callable[[], object], what: str):
    """Run ``run()`` -> Verdict; retry once on a sandbox error, then raise SandboxFailure."""
    verdict = run()
    if verdict.status == "error":
        verdict = run()
    return surface(verdict, what)


def require_sandbox() -> None:
    """Refuse to build a code task when the sandbox cannot judge a trivial program.

    Raises:
        SandboxFailure: the sandbox is unusable (checked before any generation).
    """
    verdict = check_mbpp("def f():\n    return 1\n", ["assert f() == 1"], timeout=30.0)
    if not verdict.passed:
        raise SandboxFailure(f"the code sandbox does not work here ({verdict.status}: "
                             f"{verdict.reason}); refusing to run code tasks unsandboxed")


# ---- the reference format: the answer opens with a code fence and the function's head (each
# code benchmark's ``code_head``), the model completes it, the completion is cut at the closing fence

CODE_FENCE = "```python\n"
BODY_INDENT = "    "  # the prefill ends inside the function: a small model given only the head closes the fence
_KEPT_TOP_LEVEL = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def strip_top_level(program: str) -> str:
    """``program`` with only imports, functions, classes and call-free assignments kept at top
    level (example calls, prints and ``if __name__ == ...`` blocks dropped, as the reference
    evaluation does). A program cut off mid-statement loses its unfinished last lines first;
    one that never parses is returned as it is (the sandbox reports its SyntaxError)."""
    lines = program.splitlines()
    for end in range(len(lines), 0, -1):
        source = "\n".join(lines[:end]) + "\n"
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        kept = [node for node in tree.body if isinstance(node, _KEPT_TOP_LEVEL)
                or (isinstance(node, (ast.Assign, ast.AnnAssign))
                    and not any(isinstance(n, ast.Call) for n in ast.walk(node)))]
        starts = [min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) for n in kept]
        return "".join("\n".join(lines[start - 1:n.end_lineno]) + "\n" for start, n in zip(starts, kept))
    return program


def prefilled(head: str) -> str:
    """The assistant turn's prefilled start in the reference format: a code fence, the code
    ``head`` and the indentation of the function's first body line."""
    return CODE_FENCE + head + BODY_INDENT


def completed_program(completion: str, head: str) -> str:
    """The program of a completion of :func:`prefilled` ``(head)``: the head, the indented
    completion (cut at the closing fence; spaces the model adds to the prefilled indentation of
    its first line dropped), top-level statements stripped."""
    completion = completion.split("```", 1)[0]
    return strip_top_level(head + BODY_INDENT + completion.lstrip(" \t"))


# ----------------------------------------------------------------------------- pass@k

#: the k of the code tasks' pass@k variants (mbpp_t2_pass_at_k, humaneval_t2_pass_at_k)
PASS_AT_K = (1, 5, 10)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimator (Chen et al., 2021): ``1 - C(n-c, k) / C(n, k)``.

    Args:
        n: int, samples drawn; c: int, samples correct; k: int, 1 <= k <= n.
    Returns:
        float in [0, 1].
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def code_pass_at_k(responses: list[str], doc: dict, judge: Callable[..., object], ks: tuple[int, ...],
                   completion: bool = False) -> dict[str, float]:
    """pass@k of several sampled answers to one code document, judged in parallel.

    Args:
        responses: list[str], n >= max(ks) samples.
        doc: dict, the document.
        judge: ``(response, doc, completion=...) -> Verdict``, the benchmark's judge
            (``t2eval.benchmarks.mbpp.judge_mbpp``, ``...humaneval.judge_humaneval``).
        ks: tuple[int, ...], the k values.
        completion: bool, the responses complete the prefilled head (the reference format).
    Returns:
        dict[str, float]: ``{"pass_at_<k>": value}``.
    Raises:
        SandboxFailure: the sandbox could not judge some sample (after one retry).
    """
    verdicts = check_many([lambda r=r: judge(r, doc, completion=completion) for r in responses])
    for verdict in verdicts:  # check_many turns a raised SandboxFailure into status "error"
        surface(verdict, f"a sample of {doc.get('task_id')}")
    correct = sum(v.passed for v in verdicts)
    return {f"pass_at_{k}": pass_at_k(len(responses), correct, k) for k in ks}


def judge_batch(judge: Callable[..., object], responses: list[str], docs: list[dict], what: str) -> list[float]:
    """1.0 / 0.0 per (response, document) of a code benchmark's ``judge`` (completions of the
    prefilled head), judged in parallel boxes (``check_many``).

    Raises:
        SandboxFailure: the sandbox could not judge some response.
    """
    verdicts = check_many([lambda r=r, d=d: judge(r, d, completion=True) for r, d in zip(responses, docs)])
    for verdict in verdicts:
        surface(verdict, what)
    return [float(v.passed) for v in verdicts]
