"""``mbpp_t2`` (and ``mbpp_t2_pass_at_k``): MBPP (google-research-datasets/mbpp, full), the
500-task test split; label ``code``. Needs the sandbox (``--confirm_run_unsafe_code``).

Prompt: the task text and its first test assert, asking for a ```python block. Reference
format: the answer starts prefilled (:func:`code_prefix`: a code fence, the reference
solution's imports and the signature line of the tested function); the model writes the body,
generation stops at the closing fence, top-level statements are stripped and the program runs
in t2eval's sandbox against every assert of ``test_list``. SFT reference: the reference
solution's body as a completion of the prefix (:func:`mbpp_completion`).
"""

from __future__ import annotations

import re

from t2eval import scoring
from t2eval.benchmarks.base import Benchmark, load_splits, register, with_prefix

#: wall-clock seconds per program; one MBPP reference solution needs ~8 s of CPU.
MBPP_TIMEOUT = 20.0


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


def mbpp_solution_lines(doc: dict) -> tuple[list[str], int | None]:
    """The reference solution's lines (leading tabs as 4 spaces each) and the index of the
    ``def`` line of the function the tests call (None when it defines no such function)."""
    lines = [re.sub(r"^\t+", lambda m: "    " * len(m.group()), line)
             for line in doc["code"].replace("\r\n", "\n").splitlines()]
    entry = mbpp_entry_point(doc)
    start = next((i for i, line in enumerate(lines) if entry and re.match(rf"\s*def\s+{re.escape(entry)}\s*\(", line)),
                 None)
    return lines, start


def code_head(doc: dict) -> str:
    """The code an answer in the reference format starts with: the reference solution's
    imports and the signature line of the function the tests call."""
    lines, start = mbpp_solution_lines(doc)
    imports = "".join(f"{line}\n" for line in lines if re.match(r"(import|from)\s+\w", line))
    return imports if start is None else imports + lines[start].strip() + "\n"


def code_prefix(doc: dict) -> str:
    """The assistant turn's prefilled start (the YAML's ``gen_prefix``): a code fence, the
    :func:`code_head` and the indentation of the function's first body line."""
    return scoring.prefilled(code_head(doc))


def judge_mbpp(response: str, doc: dict, timeout: float = MBPP_TIMEOUT, completion: bool = False):
    """The sandbox Verdict of the code in ``response`` on an MBPP document's ``test_list``
    (``completion``: ``response`` completes :func:`code_prefix` in the reference format).

    Raises:
        SandboxFailure: the sandbox could not run (twice).
    """
    from t2eval.sandbox import check_mbpp

    code = (scoring.completed_program(response, code_head(doc)) if completion
            else scoring.extract_code(response, mbpp_entry_point(doc)))
    return scoring.judge_once_more(lambda: check_mbpp(code, list(doc["test_list"]), doc.get("test_setup_code") or "",
                                                      timeout=timeout), f"MBPP task {doc.get('task_id')}")


def score_mbpp(response: str, doc: dict, completion: bool = False) -> float:
    """1.0 when the code in ``response`` passes every assert of ``doc["test_list"]`` in the
    sandbox, else 0.0. Raises SandboxFailure when the sandbox itself fails."""
    return float(judge_mbpp(response, doc, completion=completion).passed)


def score_completion(response: str, doc: dict) -> float:
    """The training reward of one completion of the prefilled head (the reference format)."""
    return score_mbpp(response, doc, completion=True)


def score_mbpp_batch(responses: list[str], docs: list[dict]) -> list[float]:
    """MBPP rewards for a batch of completions of the prefilled head (the reference format),
    judged in parallel boxes (``check_many``)."""
    return scoring.judge_batch(judge_mbpp, responses, docs, "an MBPP rollout")


def mbpp_completion(doc: dict) -> str:
    """The reference solution as a completion of :func:`code_prefix`: the tested function's
    body (re-indented to 4 spaces, its first line's indentation prefilled) and whatever
    follows it, then the closing fence."""
    lines, start = mbpp_solution_lines(doc)
    if start is None:
        return "pass\n```"
    body = lines[start + 1:]
    first = next((line for line in body if line.strip()), "    pass")
    width = len(first) - len(first.lstrip(" "))
    out = [scoring.BODY_INDENT + line[width:] if width and line.startswith(" " * width) else line for line in body]
    return "\n".join(out).lstrip(" ") + "\n```"


def load_code_splits(dataset: str, **metadata):
    """custom_dataset for MBPP: every split with its ``gen_prefix`` column, after checking that
    the sandbox works."""
    scoring.require_sandbox()
    return with_prefix(load_splits(dataset, **metadata), code_prefix)


def mbpp_prompt(doc: dict) -> str:
    """User turn for MBPP: the task text, the first test as the signature hint, a ```python ask
    (the answer itself starts prefilled: ``gen_prefix``)."""
    return (f"{doc['text']}\nYour code should pass this test:\n{doc['test_list'][0]}\n\n"
            "Write the Python function in a ```python code block.")


def mbpp_target(doc: dict) -> str:
    return doc["code"]


def mbpp_results(doc: dict, results: list[str]) -> dict:
    """{"pass_at_1": 1.0 | 0.0} for the greedy completion of the prefilled head, judged in the sandbox."""
    return {"pass_at_1": score_mbpp(results[0], doc, completion=True)}


def mbpp_pass_at_k_results(doc: dict, results: list[list[str]]) -> dict:
    """{"pass_at_<k>": unbiased estimate} over the sampled answers (filter take_first_k)."""
    return scoring.code_pass_at_k(list(results[0]), doc, judge_mbpp, scoring.PASS_AT_K, completion=True)


MBPP = Benchmark(name="mbpp_t2", label="code", dataset="mbpp", train_split="train", validation_split="validation",
                 test_split="test", load=load_code_splits, prompt=mbpp_prompt, target=mbpp_target,
                 results=mbpp_results, score=score_completion, batch_score=score_mbpp_batch,
                 reference=mbpp_completion, prefix=code_prefix)
MBPP_PASS_AT_K = MBPP.variant(name="mbpp_t2_pass_at_k", results=mbpp_pass_at_k_results)

register(MBPP, MBPP_PASS_AT_K)
