"""What a benchmark is (:class:`Benchmark`), the registry of them (``BENCHMARKS``) and the
data helpers several benchmarks share. No lm-eval here: lm-eval's task YAMLs call into this
package (through ``task_configs/utils.py``), not the other way round."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from t2eval.registry import Registry


@dataclass(frozen=True, kw_only=True)
class Benchmark:
    """One lm-eval task of ``task_configs/`` as the evaluation and the trainer see it.

    Attributes:
        name: str, the lm-eval task name (the YAML's ``task:``; also the key in ``BENCHMARKS``).
        label: str, the pass-1 label of its questions (one of :data:`t2eval.dispatch.LABELS`:
            the expert it trains); ``"cls"`` for the pass-1 classification task itself.
        dataset: str | None, the t2eval dataset (:func:`t2eval.data.load_split`) its documents
            come from; None when ``load`` builds them otherwise (HumanEval, the dispatch pool).
        train_split / validation_split / test_split: the dataset's splits the YAML names
            (``train_split`` None: evaluation only, never trained on).
        load: ``custom_dataset`` of the YAML: ``(**dataset_kwargs) -> datasets.DatasetDict``.
        prompt: ``doc_to_text``: the user turn.
        target: ``doc_to_target``: the reference answer as lm-eval logs it.
        results: ``process_results``: ``(doc, [response]) -> {metric: value}`` (generative tasks).
        choices: ``doc_to_choice`` of a multiple-choice task (then ``target`` gives the gold
            index and lm-eval scores by log-likelihood: acc / acc_norm, no ``results``).
        score: one response's reward, ``(response, doc) -> 1.0 | 0.0`` (None: not trainable).
        batch_score: optional ``(responses, docs) -> [reward]`` judging a batch at once (code in
            parallel sandboxes); :meth:`rewards` uses it instead of ``score`` when set.
        reference: the SFT target of a document (what ``--objective sft`` trains towards).
        prefix: the assistant turn's prefilled start (the YAML's ``gen_prefix``), or None.
        suite: the lm-eval group a task is one of many of (``bbh_ll``): summaries that list
            tasks as rows (the routing figure) show the suite as one row; None: the task itself.
    """

    name: str
    label: str
    dataset: str | None
    load: Callable
    prompt: Callable[[dict], str]
    target: Callable[[dict], str]
    results: Callable[[dict, list], dict] | None = None
    choices: Callable[[dict], list[str]] | None = None
    score: Callable[[str, dict], float] | None = None
    batch_score: Callable[[list[str], list[dict]], list[float]] | None = None
    reference: Callable[[dict], str] | None = None
    prefix: Callable[[dict], str] | None = None
    suite: str | None = None
    train_split: str | None = None
    validation_split: str | None = None
    test_split: str = "test"

    @property
    def trainable(self) -> bool:
        """bool: the trainer can build this task (a training split and a reward)."""
        return bool(self.train_split) and self.score is not None

    def rewards(self, responses: list[str], docs: list[dict]) -> list[float]:
        """1.0 / 0.0 per (response, document): ``batch_score`` when set, else ``score`` per pair."""
        if self.batch_score is not None:
            return self.batch_score(responses, docs)
        return [float(self.score(r, d)) for r, d in zip(responses, docs)]

    def variant(self, **changes) -> "Benchmark":
        """A copy with some fields changed (another task on the same documents: ``arith_t2``
        scored as ``gsm8k_t2``, the pass@k variants of the code tasks)."""
        return dataclasses.replace(self, **changes)


#: lm-eval task name -> Benchmark; filled by the modules of this package (each registers its own).
BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


def register(*benchmarks: Benchmark) -> None:
    """Register benchmarks under their names (a name taken by another object is an error)."""
    for bench in benchmarks:
        BENCHMARKS.register(bench.name, bench)


# ----------------------------------------------------------------------------- shared data helpers


def load_splits(dataset: str, **_metadata):
    """custom_dataset: every split of a t2eval dataset (local dir via $T2EVAL_DATA_DIR, else hub)."""
    import datasets

    from t2eval.data import dataset_splits, load_split

    return datasets.DatasetDict({split: load_split(dataset, split) for split in dataset_splits(dataset)})


def with_prefix(splits, prefix: Callable[[dict], str]):
    """Every split with a ``gen_prefix`` column: ``prefix(doc)``, the start of the answer that
    lm-eval puts at the start of the assistant turn (YAML ``gen_prefix: gen_prefix``); the
    model completes it."""
    return splits.map(lambda doc: {"gen_prefix": prefix(doc)})
