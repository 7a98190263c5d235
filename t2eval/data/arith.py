"""``arith``: generated arithmetic word problems (the math expert's training task).

GSM8K is out of reach for a 135M model (1–2% solved), so REINFORCE sees no reward. This task
keeps GSM8K's schema (``question``, ``answer`` ending ``#### N``) and scorer but sizes the
problems for a small model: a person starts with some objects and one to three operations
follow (gain, lose, multiply, share equally), each one sentence; every intermediate value is a
non-negative integer and divisions are exact.

Seeded and deterministic. The in-distribution splits (train, validation, test) come from one
stream (``random.Random(SEED)``); each problem goes to a split by a hash of its *structure*
(the start value and the operations with their operands), so two problems that differ only in
the name, the objects or the wording always land in the same split: no test or validation
problem shares its arithmetic (and so its worked solution's numbers) with a train problem.
A problem seen twice is kept once.

Two out-of-distribution test strata, reported apart, cannot share a structure with train by
construction: ``test_long`` (four operations; train has one to three) and ``test_large``
(a start of 20–99 and gain / loss operands of 10–30; train has 2–15 and 1–9).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache

NAME = "arith"
SPLITS = ("train", "validation", "test", "test_long", "test_large")
SIZES = {"train": 2000, "validation": 200, "test": 500, "test_long": 200, "test_large": 200}
SEED = 20261202
#: structure-hash buckets (of 10) of the in-distribution splits
BUCKETS = {"test": (0, 1), "validation": (2,)}
#: the out-of-distribution strata: their own seeded streams and generation settings
OOD = {"test_long": {"seed": SEED + 1, "ops": (4, 4)},
       "test_large": {"seed": SEED + 2, "start": (20, 99), "operand": (10, 30)}}

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


def _step(rng: random.Random, value: int, they: str, things: str, operand: tuple[int, int] = (1, 9)) -> Step:
    """A random operation that keeps ``value`` a non-negative integer (gain / loss operands drawn
    from ``operand``)."""
    They, them = they.capitalize(), {"she": "her", "he": "him"}[they]
    low, high = operand
    ops = ["+", "*"] + (["-"] if value > low else []) + (["/"] if value >= 4 and _divisors(value) else [])
    op = rng.choice(ops)
    if op == "+":
        n = rng.randint(low, high)
        return Step(op, n, rng.choice((f"{They} finds {n} more {things}.", f"{They} buys {n} more {things}.",
                                       f"A friend gives {them} {n} more {things}.")))
    if op == "-":
        n = rng.randint(low, min(high, value - 1))
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


def _problem(rng: random.Random, ops: tuple[int, int] = (1, 3), start: tuple[int, int] = (2, 15),
             operand: tuple[int, int] = (1, 9)) -> tuple[tuple, dict]:
    """(content key, row) of one random problem with ``ops`` operations on a start in ``start``."""
    name, they, _ = rng.choice(PEOPLE)
    things = rng.choice(THINGS)
    start = rng.randint(*start)
    steps, value, work = [], start, []
    for _ in range(rng.randint(*ops)):
        step = _step(rng, value, they, things, operand)
        new = step.apply(value)
        work.append(f"{value} {step.op.replace('/', '÷').replace('*', '×')} {step.operand} = {new}")
        steps.append(step)
        value = new
    question = " ".join([f"{name} has {start} {things}."] + [s.sentence for s in steps] +
                        [f"How many {things} does {name} have now?"])
    answer = "\n".join(work) + f"\n#### {value}"
    key = (name, things, start, tuple((s.op, s.operand, s.sentence) for s in steps))
    return key, {"question": question, "answer": answer}


def structure(key: tuple) -> tuple:
    """A problem's arithmetic: (start, ((op, operand), ...)), without name, objects or wording."""
    _, _, start, steps = key
    return start, tuple((op, operand) for op, operand, _ in steps)


def split_of(key: tuple) -> str:
    """The in-distribution split of a problem: a hash of its structure, so problems with the
    same arithmetic are always in the same split."""
    bucket = int(hashlib.sha256(repr(structure(key)).encode()).hexdigest(), 16) % 10
    return next((split for split, buckets in BUCKETS.items() if bucket in buckets), "train")


def _fill(rng: random.Random, sizes: dict[str, int], assign, **shape) -> dict[str, list[dict]]:
    """Draw problems from ``rng`` until every split of ``sizes`` is full (a repeat kept once)."""
    rows: dict[str, list[dict]] = {s: [] for s in sizes}
    seen: set[tuple] = set()
    while any(len(rows[s]) < sizes[s] for s in sizes):
        key, row = _problem(rng, **shape)
        split = assign(key)
        if key in seen or len(rows[split]) >= sizes[split]:
            continue
        seen.add(key)
        rows[split].append(row)
    return rows


@lru_cache(maxsize=1)
def _all_splits() -> dict[str, list[dict]]:
    rows = _fill(random.Random(SEED), {s: SIZES[s] for s in ("train", "validation", "test")}, split_of)
    for split, settings in OOD.items():
        shape = {k: v for k, v in settings.items() if k != "seed"}
        rows.update(_fill(random.Random(settings["seed"]), {split: SIZES[split]}, lambda key, s=split: s, **shape))
    return rows


def rows(split: str) -> list[dict]:
    """The rows of one split (sizes in ``SIZES``), in GSM8K's schema."""
    if split not in SPLITS:
        from t2eval.data.errors import UnknownSplitError

        raise UnknownSplitError(f"dataset 'arith' has no split '{split}'; available: {', '.join(SPLITS)}")
    return [dict(r) for r in _all_splits()[split]]
