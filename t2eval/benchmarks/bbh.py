"""``bbh_ll_<task>`` (group ``bbh_ll``): BIG-Bench Hard scored by log-likelihood, the unseen
suite for small models. No expert is trained on it.

BBH has one split per task (``test``, 146–250 documents). Each task is scored as multiple
choice over its answer options, in the stock zero-shot format (``Q: <input>\\nA:``):

* lettered tasks (17; target ``(A)``): the choices are the option *texts* listed after
  ``Options:`` in the input, the gold is the target letter's option;
* two-answer tasks (6: boolean_expressions, causal_judgement, formal_fallacies, navigate,
  sports_understanding, web_of_lies): the choices are the task's two answer words;
* free-form tasks (dyck_languages, multistep_arithmetic_two, object_counting, word_sorting)
  are left out: their answers are open strings or numbers with no option set to score, and a
  log-likelihood of the target alone is no accuracy to compare methods on.

Documents for fitting (few-shot CEM's shots) come from a ``validation`` split of
:data:`HELD_OUT` documents per task drawn with a fixed seed; ``test`` is every other document,
so nothing fitted on is ever scored (by construction; tests/test_bbh.py checks it).
"""

from __future__ import annotations

import random
import re
from collections import Counter

from t2eval.benchmarks.base import Benchmark, register

# the 27 tasks (hub configs of SaylorTwift/bbh; locally bbh/<task>.jsonl, each a test split)
BBH_TASKS: tuple[str, ...] = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa", "dyck_languages",
    "formal_fallacies", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation",
    "multistep_arithmetic_two", "navigate", "object_counting", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection", "snarks",
    "sports_understanding", "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects", "web_of_lies",
    "word_sorting",
)
HELD_OUT = 20  # documents per task kept for fitting (validation), never scored
FREE_FORM = ("dyck_languages", "multistep_arithmetic_two", "object_counting", "word_sorting")
LL_TASKS = tuple(t for t in BBH_TASKS if t not in FREE_FORM)

_LETTERED = re.compile(r"^\(([A-Z])\)$")
_OPTION = re.compile(r"^\(([A-Z])\)\s*(.*)$")


def lettered_options(text: str) -> dict[str, str]:
    """letter -> option text, from the ``(A) …`` lines after ``Options:``."""
    _, _, listed = text.partition("Options:")
    found = (_OPTION.match(line.strip()) for line in listed.splitlines())
    return {m.group(1): m.group(2).strip() for m in found if m}


def with_choices(rows: list[dict]) -> list[dict]:
    """Each row with ``choices`` (answer texts) and ``gold`` (index): lettered tasks list their
    options per document; two-answer tasks share the task's two answer words. A lettered
    task's document whose target is an option's text instead of its letter (a few in
    movie_recommendation and ruin_names) gets that option as gold; one that matches no option
    is dropped (shipped data: 1 of 250 in movie_recommendation, 2 of 250 in ruin_names)."""
    targets = [r["target"].strip() for r in rows]
    if sum(bool(_LETTERED.match(t)) for t in targets) > len(targets) / 2:
        out = []
        for row, target in zip(rows, targets):
            options = lettered_options(row["input"])
            texts = [options[k] for k in sorted(options)]
            letter = _LETTERED.match(target)
            if letter and letter.group(1) in options:
                gold = sorted(options).index(letter.group(1))
            elif target.lower() in [t.lower() for t in texts]:
                gold = [t.lower() for t in texts].index(target.lower())
            else:
                continue
            out.append({**row, "choices": texts, "gold": gold})
        return out
    words = sorted(set(targets))
    if len(words) != 2:
        raise ValueError(f"a BBH task with {len(words)} distinct answers is free-form: not scored by "
                         f"log-likelihood (left out: {', '.join(FREE_FORM)})")
    return [{**row, "choices": words, "gold": words.index(t)} for row, t in zip(rows, targets)]


def held_out_indices(task: str, n: int) -> set[int]:
    """The :data:`HELD_OUT` documents of ``task`` kept for fitting (seeded, fixed)."""
    return set(random.Random(f"t2eval-bbh-holdout:{task}").sample(range(n), min(HELD_OUT, n)))


def load_bbh_splits(dataset: str, **_metadata):
    """custom_dataset: ``validation`` (held out for fitting) and ``test`` (scored) of one BBH task."""
    import datasets

    from t2eval.data import load_split

    rows = with_choices([dict(r) for r in load_split(dataset, "test")])
    held = held_out_indices(dataset.removeprefix("bbh_"), len(rows))
    return datasets.DatasetDict({
        "validation": datasets.Dataset.from_list([r for i, r in enumerate(rows) if i in held]),
        "test": datasets.Dataset.from_list([r for i, r in enumerate(rows) if i not in held]),
    })


def bbh_prompt(doc: dict) -> str:
    return f"Q: {doc['input']}\nA:"


def bbh_choices(doc: dict) -> list[str]:
    return list(doc["choices"])


def bbh_target(doc: dict) -> int:
    return int(doc["gold"])


def constant_predictor_rates(docs: list[dict]) -> dict[str, float]:
    """What needs no skill: ``chance`` (mean 1/#choices) and ``majority`` (always answering the
    most frequent gold position: a constant predictor's accuracy)."""
    if not docs:
        return {"chance": 0.0, "majority": 0.0}
    gold = Counter(int(d["gold"]) for d in docs)
    return {"chance": sum(1 / len(d["choices"]) for d in docs) / len(docs),
            "majority": gold.most_common(1)[0][1] / len(docs)}


register(*(Benchmark(name=f"bbh_ll_{task}", label="reasoning", dataset=f"bbh_{task}", load=load_bbh_splits,
                     prompt=bbh_prompt, target=bbh_target, choices=bbh_choices, validation_split="validation",
                     test_split="test", suite="bbh_ll") for task in LL_TASKS))
