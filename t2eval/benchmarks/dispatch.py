"""``dispatch_t2``: pass-1 classification accuracy of two-pass inference (label ``cls``: the
task of the classifier expert z_c, trained as ``cls``).

Documents: ``per_task`` rows of the TEST split of each expert task in :data:`SOURCES` (gsm8k ->
math, mbpp -> code, arc_easy -> reasoning), pooled and shuffled (:func:`dispatch_pool`); the
question is what the backend's pass 1 sees (:func:`t2eval.dispatch.question_of`). Prompt: the
paper's classification prompt; score: ``parse_label(response) == label``; SFT reference:
``Classification: \\boxed{label}``.
"""

from __future__ import annotations

from t2eval.benchmarks.arc import ARC_EASY
from t2eval.benchmarks.base import Benchmark, register
from t2eval.benchmarks.gsm8k import GSM8K
from t2eval.benchmarks.mbpp import MBPP

#: the expert tasks whose questions pass 1 classifies (their label is the gold class), in pool order
SOURCES: tuple[Benchmark, ...] = (GSM8K, MBPP, ARC_EASY)

#: t2eval dataset of each source task -> the pass-1 label its prompts should get.
DISPATCH_LABELS: dict[str, str] = {bench.dataset: bench.label for bench in SOURCES}


def dispatch_pool(per_task: int, seed: int) -> list[dict]:
    """The pooled pass-1 documents: `per_task` test rows of each source task, shuffled.

    For each t2eval dataset in `DISPATCH_LABELS` (gsm8k, mbpp, arc_easy), rows
    ``sorted(random.Random(f"{seed}:{name}").sample(range(len(test)), per_task))`` of its
    TEST split; the pool is then shuffled with ``random.Random(seed)`` so that ``--limit``
    still sees all three tasks.

    Args:
        per_task: int, rows drawn per task (at most the split size).
        seed: int, the sampling seed.
    Returns:
        list[dict]: {"source": task, "source_index": row, "question": the text pass 1 sees
        (the backend's `question_of`), "label": gold label}.
    """
    import random

    from t2eval.data import load_split
    from t2eval.dispatch import question_of

    pool = []
    for name, label in DISPATCH_LABELS.items():
        rows = load_split(name, "test")
        chosen = sorted(random.Random(f"{seed}:{name}").sample(range(len(rows)), min(per_task, len(rows))))
        pool += [{"source": name, "source_index": i, "question": question_of(rows[i], ""), "label": label}
                 for i in chosen]
    random.Random(seed).shuffle(pool)
    return pool


def load_dispatch_splits(per_task: int = 100, seed: int = 1234, **_metadata):
    """custom_dataset for dispatch_t2: {"test": `dispatch_pool(per_task, seed)`}."""
    import datasets

    features = datasets.Features({"source": datasets.Value("string"), "source_index": datasets.Value("int64"),
                                  "question": datasets.Value("string"), "label": datasets.Value("string")})
    rows = dispatch_pool(int(per_task), int(seed))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows, features=features)})


def score_dispatch(response: str, doc: dict) -> float:
    """1.0 when the label parsed from a pass-1 response (the backend's own ``parse_label``)
    equals ``doc["label"]``, else 0.0."""
    from t2eval.dispatch import parse_label

    return float(parse_label(response) == doc["label"])


def dispatch_prompt(doc: dict) -> str:
    """User turn: the paper's classification prompt around the question (backend's own)."""
    from t2eval.dispatch import classification_prompt

    return classification_prompt(doc["question"])


def dispatch_target(doc: dict) -> str:
    return doc["label"]


def dispatch_results(doc: dict, results: list[str]) -> dict:
    """{"acc": 1.0 | 0.0, "acc_<label>": same, only for this document's gold label}."""
    score = score_dispatch(results[0], doc)
    return {"acc": score, f"acc_{doc['label']}": score}


def dispatch_reference(doc: dict) -> str:
    """The SFT target of a pass-1 document: the answer line the prompt asks for."""
    return f"Classification: \\boxed{{{doc['label']}}}"


DISPATCH = Benchmark(name="dispatch_t2", label="cls", dataset=None, test_split="test", load=load_dispatch_splits,
                     prompt=dispatch_prompt, target=dispatch_target, results=dispatch_results,
                     score=score_dispatch, reference=dispatch_reference)

register(DISPATCH)
