"""One scoring function per task, shared by the lm-eval task metrics, RL rewards and
CEM fitness: each takes the model's response and the hub-schema document and returns
1.0 (correct) or 0.0."""

from __future__ import annotations

import re

LETTERS = "ABCDE"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
_LETTER = re.compile(r"^\W*(?:answer\W*)?\(?([A-E])\b")
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


def gsm8k_gold(doc: dict) -> float | None:
    return _to_number(doc["answer"].split("####")[-1].strip())


def gsm8k_prediction(response: str) -> float | None:
    """'The answer is N' if stated, else the last number in the response."""
    stated = _ANSWER_IS.findall(response)
    numbers = stated or _NUMBER.findall(response)
    return _to_number(numbers[-1]) if numbers else None


def score_gsm8k(response: str, doc: dict) -> float:
    pred, gold = gsm8k_prediction(response), gsm8k_gold(doc)
    return float(pred is not None and gold is not None and abs(pred - gold) < 1e-6)
