"""``arith``: generated arithmetic word problems (the math expert's training task).

GSM8K is out of reach for a 135M model (1–2% solved), so REINFORCE sees no reward. This task
keeps GSM8K's schema (``question``, ``answer`` ending ``#### N``) and scorer but sizes the
problems for a small model: a person starts with some objects and one to three operations
follow (gain, lose, multiply, share equally), each one sentence; every intermediate value is a
non-negative integer and divisions are exact.

Seeded and deterministic: problems come from one stream (``random.Random(SEED)``) and each is
assigned to a split by a hash of its content, so train and test are disjoint by construction
(the same problem can never land in both) and a problem seen twice is kept once.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache

NAME = "arith"
SPLITS = ("train", "test")
SIZES = {"train": 2000, "test": 500}
SEED = 20261202
TEST_SHARE = 5  # one problem in five (by content hash) belongs to test

PEOPLE = (("Anna", "she", "her"), ("Ben", "he", "his"), ("Carla", "she", "her"), ("David", "he", "his"),
          ("Emma", "she", "her"), ("Farid", "he", "his"), ("Grace", "she", "her"), ("Hugo", "he", "his"),
          ("Iris", "she", "her"), ("Jonas", "he", "his"), ("Kiara", "she", "her"), ("Liam", "he", "his"),
          ("Maya", "she", "her"), ("Noah", "he", "his"), ("Olga", "she", "her"), ("Pablo", "he", "his"))
THINGS = ("apples", "marbles", "stickers", "pencils", "cookies", "stamps", "shells", "coins", "books",
          "cards", "balloons", "buttons", "crayons", "seeds", "eggs", "beads")


@dataclass(frozen=True)
class Step:
    """One operation: ``op`` in + - * /, its operand, and the sentence that states it."""

    op: str
    operand: int
    sentence: str

    def apply(self, value: int) -> int:
        return {"+": value + self.operand, "-": value - self.operand,
                "*": value * self.operand, "/": value // self.operand}[self.op]


def _step(rng: random.Random, value: int, they: str, things: str) -> Step:
    """A random operation that keeps ``value`` a non-negative integer."""
    They, them = they.capitalize(), {"she": "her", "he": "him"}[they]
    ops = ["+", "*"] + (["-"] if value > 1 else []) + (["/"] if value >= 4 and _divisors(value) else [])
    op = rng.choice(ops)
    if op == "+":
        n = rng.randint(1, 9)
        return Step(op, n, rng.choice((f"{They} finds {n} more {things}.", f"{They} buys {n} more {things}.",
                                       f"A friend gives {them} {n} more {things}.")))
    if op == "-":
        n = rng.randint(1, min(9, value - 1))
        return Step(op, n, rng.choice((f"{They} gives away {n} {things}.", f"{They} loses {n} {things}.",
                                       f"{They} uses {n} of the {things}.")))
    if op == "*":
        n = rng.randint(2, 3)
        grows = {2: "doubles", 3: "triples"}[n]
        return Step(op, n, f"Then the number of {things} {they} has {grows}.")
    n = rng.choice(_divisors(value))
    return Step(op, n, f"{They} shares the {things} equally among {n} boxes and keeps one box.")


def _divisors(value: int) -> list[int]:
    return [d for d in (2, 3) if value % d == 0]


def _problem(rng: random.Random) -> tuple[tuple, dict]:
    name, they, _ = rng.choice(PEOPLE)
    things = rng.choice(THINGS)
    start = rng.randint(2, 15)
    steps, value, work = [], start, []
    for _ in range(rng.randint(1, 3)):
        step = _step(rng, value, they, things)
        new = step.apply(value)
        work.append(f"{value} {step.op.replace('/', '÷').replace('*', '×')} {step.operand} = {new}")
        steps.append(step)
        value = new
    question = " ".join([f"{name} has {start} {things}."] + [s.sentence for s in steps] +
                        [f"How many {things} does {name} have now?"])
    answer = "\n".join(work) + f"\n#### {value}"
    key = (name, things, start, tuple((s.op, s.operand, s.sentence) for s in steps))
    return key, {"question": question, "answer": answer}


def split_of(key: tuple) -> str:
    """The split a problem belongs to: a content hash, so no problem can be in two splits."""
    digest = int(hashlib.sha256(repr(key).encode()).hexdigest(), 16)
    return "test" if digest % TEST_SHARE == 0 else "train"


@lru_cache(maxsize=1)
def _all_splits() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    seen: set[tuple] = set()
    while any(len(rows[s]) < SIZES[s] for s in SPLITS):
        key, row = _problem(rng)
        split = split_of(key)
        if key in seen or len(rows[split]) >= SIZES[split]:
            continue
        seen.add(key)
        rows[split].append(row)
    return rows


def rows(split: str) -> list[dict]:
    """The rows of one split (``train``: 2000, ``test``: 500), in GSM8K's schema."""
    if split not in SPLITS:
        from t2eval.data.errors import UnknownSplitError

        raise UnknownSplitError(f"dataset 'arith' has no split '{split}'; available: {', '.join(SPLITS)}")
    return [dict(r) for r in _all_splits()[split]]
