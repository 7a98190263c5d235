"""``math`` / ``math500``: MATH (EleutherAI/hendrycks_math, the 5000-problem test split) and
MATH-500 (HuggingFaceH4/MATH-500); label ``math``.

Prompt: the problem, step by step, the final answer in ``\\boxed{}``; score: the last
``\\boxed{}`` of the response is mathematically equivalent to the reference answer
(:mod:`t2eval.math_equiv`: math-verify in a worker with a hard timeout); reference answer:
MATH-500's ``answer``, else the last ``\\boxed{}`` of the solution; SFT reference: the solution.
"""

from __future__ import annotations

from t2eval.benchmarks.base import Benchmark, load_splits, register


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


def math_prompt(doc: dict) -> str:
    """User turn for MATH / MATH-500: the problem, step-by-step, final answer in \\boxed{}."""
    return (f"{doc['problem']}\n\nSolve the problem step by step. "
            "Put your final answer within \\boxed{}.")


def math_target(doc: dict) -> str:
    """The reference final answer (MATH: last \\boxed{} of the solution; MATH-500: `answer`)."""
    return math_gold(doc)


def math_results(doc: dict, results: list[str]) -> dict:
    """{"exact_match": 1.0 | 0.0}: mathematical equivalence of the boxed answer (math-verify)."""
    return {"exact_match": score_math(results[0], doc)}


def math_reference(doc: dict) -> str:
    """The SFT target: the reference solution (it ends with the boxed answer)."""
    return doc["solution"]


MATH = Benchmark(name="math", label="math", dataset="math", train_split="train", test_split="test",
                 load=load_splits, prompt=math_prompt, target=math_target, results=math_results,
                 score=score_math, reference=math_reference)
MATH500 = MATH.variant(name="math500", dataset="math500", train_split=None)

register(MATH, MATH500)
