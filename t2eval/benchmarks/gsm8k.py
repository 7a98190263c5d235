"""``gsm8k_t2``: GSM8K (openai/gsm8k, main), grade-school word problems; label ``math``.

Prompt: the question, solve step by step, end with "The answer is N."; score: the stated
answer ("answer is N"), else the last number of the response, equals the number after
``####`` of the reference solution; SFT reference: the solution without its calculator
annotations, ending as the prompt asks.
"""

from __future__ import annotations

import re

from t2eval.benchmarks.base import Benchmark, load_splits, register

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
_CALC = re.compile(r"<<[^>]*>>")


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


def gsm8k_prompt(doc: dict) -> str:
    return (f"{doc['question']}\n\nSolve the problem step by step. End with a line of the form "
            "'The answer is N.' where N is the final number.")


def gsm8k_target(doc: dict) -> str:
    return gsm8k_gold_text(doc)


def gsm8k_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": score_gsm8k(results[0], doc)}


def gsm8k_reference(doc: dict) -> str:
    """The GSM8K solution without calculator annotations, ending as the prompt asks."""
    body, _, answer = doc["answer"].partition("####")
    return f"{_CALC.sub('', body).strip()}\nThe answer is {answer.strip()}."


def calculations(doc: dict) -> int:
    """The number of ``<<…>>`` calculator annotations in a GSM8K reference solution."""
    return len(_CALC.findall(doc["answer"]))


def load_gsm8k_short(dataset: str = "gsm8k", max_calcs: int = 2, **_metadata):
    """custom_dataset of ``gsm8k_t2_short``: every GSM8K split cut to the problems whose reference
    solution has at most ``max_calcs`` calculations (a stated, fixed slice: 440 of 1319 test
    problems, 2674 of 7473 train problems at 2)."""
    return load_splits(dataset).filter(lambda doc: calculations(doc) <= max_calcs)


GSM8K = Benchmark(name="gsm8k_t2", label="math", dataset="gsm8k", train_split="train", test_split="test",
                  load=load_splits, prompt=gsm8k_prompt, target=gsm8k_target, results=gsm8k_results,
                  score=score_gsm8k, reference=gsm8k_reference)

#: the easiest real word problems: the transfer check of an arithmetic expert
GSM8K_SHORT = GSM8K.variant(name="gsm8k_t2_short", load=load_gsm8k_short)

register(GSM8K, GSM8K_SHORT)
