"""``arc_easy_t2`` / ``arc_challenge_t2``: AI2 ARC (allenai/ai2_arc, ARC-Easy / ARC-Challenge),
multiple-choice science questions answered generatively; label ``reasoning``.

Prompt: the question and its options relabelled A, B, C, ...; score: the option letter the
response gives (a leading letter, or "answer is X") is the gold one; SFT reference: the gold
letter.
"""

from __future__ import annotations

import re

from t2eval.benchmarks.base import Benchmark, load_splits, register

LETTERS = "ABCDE"
# a leading option letter; "A" followed by a lower-case word is the article ("A woodpecker taps…")
_LETTER = re.compile(r"^\W*(?:answer\W*)?\(?(?!A\s+[a-z])([A-E])\b")
_LETTER_ANYWHERE = re.compile(r"(?:answer is|answer:)\s*\(?([A-E])\b", re.IGNORECASE)


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


def arc_prompt(doc: dict) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in arc_options(doc))
    return (f"{doc['question']}\n\nOptions:\n{options}\n\n"
            "Answer with the letter of the correct option only.")


def arc_target(doc: dict) -> str:
    return arc_gold_letter(doc)


def arc_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": score_arc(results[0], doc)}


ARC_EASY = Benchmark(name="arc_easy_t2", label="reasoning", dataset="arc_easy", train_split="train",
                     validation_split="validation", test_split="test", load=load_splits, prompt=arc_prompt,
                     target=arc_target, results=arc_results, score=score_arc, reference=arc_gold_letter)
ARC_CHALLENGE = ARC_EASY.variant(name="arc_challenge_t2", dataset="arc_challenge")

register(ARC_EASY, ARC_CHALLENGE)
