"""One scoring function per task, shared by the lm-eval task metrics, RL rewards and
CEM fitness: each takes the model's response and the hub-schema document and returns
1.0 (correct) or 0.0."""

from __future__ import annotations

import ast
import re

LETTERS = "ABCDE"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
# a leading option letter; "A" followed by a lower-case word is the article ("A woodpecker taps…")
_LETTER = re.compile(r"^\W*(?:answer\W*)?\(?(?!A\s+[a-z])([A-E])\b")
_LETTER_ANYWHERE = re.compile(r"(?:answer is|answer:)\s*\(?([A-E])\b", re.IGNORECASE)


# ----------------------------------------------------------------------------- ARC


def arc_options(doc: dict) -> list[tuple[str, str]]:
    """(letter, text) for each choice, relabelled A, B, C... (some docs use 1-4)."""
    return [(LETTERS[i], text) for i, text in enumerate(doc["choices"]["text"])]


def arc_gold_letter(doc: dict) -> str:
    return LETTERS[doc["choices"]["label"].index(doc["answerKey"])]


def arc_letter(response: str) -> str | None:
    """The option letter a response gives: a leading letter, or 'answer is X'."""
    found = _LETTER.search(response) or _LETTER_ANYWHERE.search(response)
    return found.group(1) if found else None


def score_arc(response: str, doc: dict) -> float:
    return float(arc_letter(response) == arc_gold_letter(doc))


# ----------------------------------------------------------------------------- GSM8K


def _to_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").rstrip("."))
    except ValueError:
        return None


def gsm8k_gold_text(doc: dict) -> str:
    """The reference answer after '####' in a GSM8K solution, as written."""
    return doc["answer"].split("####")[-1].strip()


def gsm8k_gold(doc: dict) -> float | None:
    return _to_number(gsm8k_gold_text(doc))


def gsm8k_prediction(response: str) -> float | None:
    """'The answer is N' if stated, else the last number in the response."""
    stated = _ANSWER_IS.findall(response)
    numbers = stated or _NUMBER.findall(response)
    return _to_number(numbers[-1]) if numbers else None


def score_gsm8k(response: str, doc: dict) -> float:
    pred, gold = gsm8k_prediction(response), gsm8k_gold(doc)
    return float(pred is not None and gold is not None and abs(pred - gold) < 1e-6)


# ----------------------------------------------------------------------------- MATH, MATH-500


def math_gold(doc: dict) -> str:
    """The reference final answer of a MATH or MATH-500 document.

    Args:
        doc: dict, a MATH row (problem, level, type, solution) or a MATH-500 row (…, answer).
    Returns:
        str: ``doc["answer"]`` when present (MATH-500), else the last ``\\boxed{}`` of
        ``doc["solution"]`` (MATH).
    Raises:
        ValueError: the document has neither.
    """
    from t2eval.math_equiv import last_boxed

    answer = doc.get("answer")
    if isinstance(answer, str) and answer.strip():
        return answer.strip()
    boxed = last_boxed(doc.get("solution") or "")
    if boxed is None:
        raise ValueError(f"MATH document without a reference answer: {str(doc.get('problem'))[:80]!r}")
    return boxed


def math_prediction(response: str) -> str | None:
    """The model's final answer: the content of the last ``\\boxed{}`` (None when absent)."""
    from t2eval.math_equiv import last_boxed

    return last_boxed(response)


def score_math(response: str, doc: dict) -> float:
    """1.0 when the last ``\\boxed{}`` of ``response`` is mathematically equivalent to the
    reference answer (see :mod:`t2eval.math_equiv`; bounded time), else 0.0."""
    from t2eval.math_equiv import is_equivalent

    pred = math_prediction(response)
    return float(pred is not None and is_equivalent(math_gold(doc), pred))


score_math500 = score_math


# ----------------------------------------------------------------------------- code (MBPP, HumanEval)

#: wall-clock seconds per program; one MBPP reference solution needs ~8 s of CPU.
MBPP_TIMEOUT = 20.0
HUMANEVAL_TIMEOUT = 20.0
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*)\Z", re.DOTALL | re.IGNORECASE)
_PYTHON_TAGS = ("", "python", "python3", "py")


class SandboxFailure(RuntimeError):
    """The sandbox itself could not run a program (Verdict status ``error``): not a wrong answer."""


def _defines(code: str, name: str | None) -> bool:
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
        return next((b for b in blocks if _defines(b, entry_point)), blocks[0])
    unclosed = _OPEN_FENCE.search(response)
    if unclosed:
        return unclosed.group(1)
    return response.strip("\n")


def mbpp_entry_point(doc: dict) -> str | None:
    """The function an MBPP document's first assert calls (first non-builtin name called)."""
    import ast
    import builtins

    try:
        tree = ast.parse(doc["test_list"][0])
    except (SyntaxError, IndexError):
        return None
    names = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    return next((n for n in names if not hasattr(builtins, n)), names[0] if names else None)


def _surface(verdict, what: str):
    """``verdict`` unless its status is ``error`` (then raise SandboxFailure)."""
    if verdict.status == "error":
        raise SandboxFailure(f"the sandbox could not judge {what}: {verdict.reason}")
    return verdict


def _judge(run, what: str):
    """Run ``run()`` -> Verdict; retry once on a sandbox error, then raise SandboxFailure."""
    verdict = run()
    if verdict.status == "error":
        verdict = run()
    return _surface(verdict, what)


# ---- the reference format: the answer opens with a code fence and the function's head, the
# model completes it, the completion is cut at the closing fence (see task_configs/utils.py)

CODE_FENCE = "```python\n"
BODY_INDENT = "    "  # the prefill ends inside the function: a small model given only the head closes the fence
_KEPT_TOP_LEVEL = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def code_head(doc: dict) -> str:
    """The code an answer in the reference format starts with: HumanEval's prompt (imports,
    helpers, signature and docstring); for MBPP the reference solution's imports and the
    signature line of the function the tests call."""
    if "entry_point" in doc and "prompt" in doc:
        return doc["prompt"]
    lines, start = mbpp_solution_lines(doc)
    imports = "".join(f"{line}\n" for line in lines if re.match(r"(import|from)\s+\w", line))
    return imports if start is None else imports + lines[start].strip() + "\n"


def mbpp_solution_lines(doc: dict) -> tuple[list[str], int | None]:
    """The reference solution's lines (leading tabs as 4 spaces each) and the index of the
    ``def`` line of the function the tests call (None when it defines no such function)."""
    lines = [re.sub(r"^\t+", lambda m: "    " * len(m.group()), line)
             for line in doc["code"].replace("\r\n", "\n").splitlines()]
    entry = mbpp_entry_point(doc)
    start = next((i for i, line in enumerate(lines) if entry and re.match(rf"\s*def\s+{re.escape(entry)}\s*\(", line)),
                 None)
    return lines, start


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


def code_prefix(doc: dict) -> str:
    """The assistant turn's prefilled start in the reference format: a code fence, the
    :func:`code_head` and the indentation of the function's first body line."""
    return CODE_FENCE + code_head(doc) + BODY_INDENT


def reference_program(completion: str, doc: dict) -> str:
    """The program of a completion of :func:`code_prefix`: the head, the indented completion
    (cut at the closing fence; spaces the model adds to the prefilled indentation of its first
    line dropped), top-level statements stripped."""
    completion = completion.split("```", 1)[0]
    return strip_top_level(code_head(doc) + BODY_INDENT + completion.lstrip(" \t"))


def judge_mbpp(response: str, doc: dict, timeout: float = MBPP_TIMEOUT, completion: bool = False):
    """The sandbox Verdict of the code in ``response`` on an MBPP document's ``test_list``
    (``completion``: ``response`` completes :func:`code_head` in the reference format).

    Raises:
        SandboxFailure: the sandbox could not run (twice).
    """
    from t2eval.sandbox import check_mbpp

    code = reference_program(response, doc) if completion else extract_code(response, mbpp_entry_point(doc))
    return _judge(lambda: check_mbpp(code, list(doc["test_list"]), doc.get("test_setup_code") or "",
                                     timeout=timeout), f"MBPP task {doc.get('task_id')}")


def score_mbpp(response: str, doc: dict, completion: bool = False) -> float:
    """1.0 when the code in ``response`` passes every assert of ``doc["test_list"]`` in the
    sandbox, else 0.0. Raises SandboxFailure when the sandbox itself fails."""
    return float(judge_mbpp(response, doc, completion=completion).passed)


def _indent_body(code: str) -> str:
    """Indent a function body by 4 spaces when its first line is not indented."""
    lines = code.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first[:1] in (" ", "\t"):
        return code if code.endswith("\n") else code + "\n"
    return "".join(f"    {line}\n" if line.strip() else "\n" for line in lines)


def humaneval_program(response: str, doc: dict) -> str:
    """The program to test for a HumanEval answer.

    If the extracted code defines ``doc["entry_point"]``, it follows the part of
    ``doc["prompt"]`` before that function (imports and helper functions); otherwise it
    is taken as the body completing ``doc["prompt"]``.

    Args:
        response: str, the model's answer.
        doc: dict, a HumanEval row (task_id, prompt, canonical_solution, test, entry_point).
    Returns:
        str: a complete Python program.
    """
    prompt, entry = doc["prompt"], doc["entry_point"]
    code = extract_code(response, entry)
    if _defines(code, entry):
        head = re.search(rf"^def\s+{re.escape(entry)}\s*\(", prompt, re.M)
        return (prompt[:head.start()] if head else "") + code + "\n"
    return prompt + _indent_body(code)


def judge_humaneval(response: str, doc: dict, timeout: float = HUMANEVAL_TIMEOUT, completion: bool = False):
    """The sandbox Verdict of a HumanEval answer against the document's ``check``
    (``completion``: ``response`` completes the prompt in the reference format).

    Raises:
        SandboxFailure: the sandbox could not run (twice).
    """
    from t2eval.sandbox import check_humaneval

    program = reference_program(response, doc) if completion else humaneval_program(response, doc)
    return _judge(lambda: check_humaneval(program, doc["test"], doc["entry_point"], timeout=timeout),
                  f"{doc.get('task_id')}")


def score_humaneval(response: str, doc: dict, completion: bool = False) -> float:
    """1.0 when the function in ``response`` passes the document's ``check``, else 0.0.
    Raises SandboxFailure when the sandbox itself fails."""
    return float(judge_humaneval(response, doc, completion=completion).passed)


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


def code_pass_at_k(responses: list[str], doc: dict, task: str, ks: tuple[int, ...],
                   completion: bool = False) -> dict[str, float]:
    """pass@k of several sampled answers to one code document, judged in parallel.

    Args:
        responses: list[str], n >= max(ks) samples.
        doc: dict, an MBPP (task "mbpp") or HumanEval (task "humaneval") document.
        task: str, ``"mbpp"`` or ``"humaneval"``.
        ks: tuple[int, ...], the k values.
        completion: bool, the responses complete :func:`code_head` (the reference format).
    Returns:
        dict[str, float]: ``{"pass_at_<k>": value}``.
    Raises:
        SandboxFailure: the sandbox could not judge some sample (after one retry).
        ValueError: unknown task.
    """
    from t2eval.sandbox import check_many

    judge = {"mbpp": judge_mbpp, "humaneval": judge_humaneval}.get(task)
    if judge is None:
        raise ValueError(f"task must be 'mbpp' or 'humaneval', not {task!r}")
    verdicts = check_many([lambda r=r: judge(r, doc, completion=completion) for r in responses])
    for verdict in verdicts:  # check_many turns a raised SandboxFailure into status "error"
        _surface(verdict, f"a sample of {doc.get('task_id')}")
    correct = sum(v.passed for v in verdicts)
    return {f"pass_at_{k}": pass_at_k(len(responses), correct, k) for k in ks}


# ----------------------------------------------------------------------------- dispatch (pass 1)

#: training task (t2eval dataset name) -> the pass-1 label its prompts should get.
DISPATCH_LABELS = {"gsm8k": "math", "mbpp": "code", "arc_easy": "reasoning"}


def score_dispatch(response: str, doc: dict) -> float:
    """1.0 when the label parsed from a pass-1 response (the backend's own ``parse_label``)
    equals ``doc["label"]``, else 0.0."""
    from t2eval.dispatch import parse_label

    return float(parse_label(response) == doc["label"])
