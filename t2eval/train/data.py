"""Training tasks: the evaluation's own prompts, stop strings and scorers.

A task name is an lm-eval task of ``task_configs/`` whose benchmark (:mod:`t2eval.benchmarks`)
has a training split (``gsm8k_t2``, ``arith_t2``, ``mbpp_t2``, ``arc_easy_t2``,
``arc_challenge_t2``, ``math``), or ``cls`` (the pass-1 classification task pooled from gsm8k /
mbpp / arc_easy), or ``module:function`` returning a :class:`TrainTask` (used by the tests' toy
task), or a stock lm-eval multiple-choice task (``--objective choice``).

The benchmark gives the prompt, reward, SFT reference, label and data source; prompts are
rendered exactly as ``lm_eval ... --apply_chat_template`` renders them: the benchmark's
``doc_to_text`` as the only user turn of the tokenizer's chat template, with the generation
prompt; generation stops at the YAML's ``generation_kwargs.until``. The training split is
halved into train / validation with a seeded shuffle (``val_split="half"``, the paper's recipe),
or trained on whole and validated on the dataset's own split named by ``val_split`` (e.g.
MBPP's ``validation``: 374 train / 90 validation instead of 187 / 187); the test split is never read.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from typing import Callable

import yaml

from t2eval.benchmarks import BENCHMARKS, Benchmark, label_of_task, task_dir
from t2eval.benchmarks.dispatch import DISPATCH, SOURCES
from t2eval.dispatch import LABELS as PASS1_LABELS, PASS1_GEN, question_of
from t2eval.dispatch.prompt import ANSWER_PREFIX, LABEL_END, pass1_messages

from ..harness.tasks import lm_eval_task
from .choice import ChoiceItem, choice_item

HALF = "half"  # val_split: the training split halved (seeded), the paper's recipe


class TaskError(ValueError):
    """The task cannot be trained (unknown, or no training split)."""


@dataclass
class TrainTask:
    """What the trainer needs of a task.

    ``prompt(doc)`` is the user-turn text; ``score(responses, docs)`` returns 1.0/0.0 per
    response; ``reference(doc)`` is the target text of ``--objective sft``.
    ``chat``: wrap prompts in the tokenizer's chat template. ``choice(doc, tokenizer)``: the
    document as a multiple-choice item (tasks trained with ``--objective choice``); ``score``
    is None for tasks that can only be trained that way (stock lm-eval multiple-choice tasks).
    """

    name: str
    label: str
    prompt: Callable[[dict], str]
    score: Callable[[list[str], list[dict]], list[float]]
    train_docs: list[dict]
    val_docs: list[dict]
    stop: list[str] = field(default_factory=list)
    max_gen_toks: int = 256
    reference: Callable[[dict], str] | None = None
    chat: bool = True
    choice: Callable[[dict, object], "ChoiceItem"] | None = None  # (doc, tokenizer) -> item (objective=choice)
    prefix: Callable[[dict], str] | None = None  # the answer's prefilled start (the YAML's gen_prefix)

    def render(self, doc: dict, tokenizer) -> str:
        text = self.prompt(doc)
        if self.chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                 add_generation_prompt=True, tokenize=False)
        return text + (self.prefix(doc) if self.prefix else "")


# ----------------------------------------------------------------------------- task YAMLs


class _YamlLoader(yaml.SafeLoader):
    pass


_YamlLoader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


def config_task_names() -> list[str]:
    """The lm-eval tasks of t2eval's task_configs/ (YAMLs not starting with ``_``)."""
    return sorted(p.stem for p in task_dir().glob("*.yaml") if not p.stem.startswith("_"))


def read_task_yaml(task: str) -> dict:
    """The merged YAML of an lm-eval task of task_configs/ (``include`` resolved)."""
    folder = task_dir()
    path = folder / f"{task}.yaml"
    if not path.is_file():
        raise TaskError(f"unknown task '{task}'; trainable tasks come from {folder}: "
                        f"{', '.join(config_task_names())} (plus 'cls')")
    config = yaml.load(path.read_text(), Loader=_YamlLoader) or {}
    if "include" in config:
        base = yaml.load((folder / config.pop("include")).read_text(), Loader=_YamlLoader) or {}
        config = {**base, **config}
    return config


def halve(docs: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle, then first half = train, second half = validation (the paper's recipe)."""
    order = list(range(len(docs)))
    random.Random(f"t2eval-halve:{seed}").shuffle(order)
    half = len(order) // 2
    return [docs[i] for i in order[:half]], [docs[i] for i in order[half:]]


def _load_train_split(dataset: str, data_dir: str | None, split: str = "train") -> list[dict]:
    from t2eval.data import load_split  # heavy: t2eval.data imports datasets

    return [dict(row) for row in load_split(dataset, split, data_dir=data_dir)]


def _train_val(bench: Benchmark, seed: int, data_dir: str | None,
               val_split: str) -> tuple[list[dict], list[dict]]:
    """Train / validation documents of a benchmark's dataset: the training split halved, or
    whole with ``val_split`` as validation (never the test split)."""
    dataset = bench.dataset
    train = _load_train_split(dataset, data_dir, bench.train_split)
    if val_split == HALF:
        return halve(train, seed)
    if val_split == bench.test_split:
        raise TaskError(f"val_split={val_split!r} is the test split of {dataset}; the test split is never "
                        "read in training (use val_split=half or the dataset's validation split)")
    from t2eval.data import UnknownSplitError  # heavy: t2eval.data imports datasets

    try:
        return train, _load_train_split(dataset, data_dir, val_split)
    except UnknownSplitError as err:
        raise TaskError(f"val_split={val_split!r}: {err}") from err


# ----------------------------------------------------------------------------- building tasks


def build_task(name: str, seed: int = 0, data_dir: str | None = None, val_split: str = HALF) -> TrainTask:
    """The :class:`TrainTask` called ``name`` (see module docstring)."""
    if val_split != HALF and (":" in name or name == "cls"):
        raise TaskError(f"val_split={val_split!r} needs a dataset task; '{name}' builds its own "
                        "validation (use val_split=half)")
    if ":" in name:
        module, attr = name.split(":", 1)
        return getattr(importlib.import_module(module), attr)(seed=seed, data_dir=data_dir)
    if name == "cls":
        return build_cls_task(seed, data_dir)
    if not (task_dir() / f"{name}.yaml").is_file():
        return build_choice_task(name, seed, data_dir, val_split)
    config = read_task_yaml(name)  # the evaluation's generation settings
    bench = BENCHMARKS.get(name)  # every task YAML has one (tests/test_benchmarks.py)
    if not bench.train_split:
        trainable = [n for n in BENCHMARKS if BENCHMARKS.get(n).trainable]
        raise TaskError(f"task '{name}' has no training split (its YAML sets only "
                        f"test_split={bench.test_split!r}); train on {', '.join(trainable)} or cls, "
                        "and evaluate on this one")
    if bench.score is None:
        raise TaskError(f"task '{name}' (dataset {bench.dataset!r}) has no training reward")
    gen = config.get("generation_kwargs") or {}
    train, val = _train_val(bench, seed, data_dir, val_split)
    return TrainTask(name=name, label=bench.label, prompt=bench.prompt, score=bench.rewards,
                     train_docs=train, val_docs=val,
                     stop=list(gen.get("until") or []), max_gen_toks=int(gen.get("max_gen_toks", 256)),
                     reference=bench.reference, prefix=bench.prefix)


def build_choice_task(name: str, seed: int = 0, data_dir: str | None = None,
                      val_split: str = HALF) -> TrainTask:
    """A multiple-choice lm-eval task (stock ``arc_easy``, ``arc_challenge``, …) for
    ``--objective choice``: its training split halved into train / validation, every document
    as the requests lm-eval scores (:mod:`t2eval.train.choice`). Its test split is never read."""
    task = lm_eval_task(name)  # offline: its data comes from `t2eval data import DIR`
    if task is None:
        raise TaskError(f"unknown task '{name}': neither t2eval's task_configs ({', '.join(config_task_names())}, "
                        "cls) nor lm-eval know it")
    if getattr(task, "OUTPUT_TYPE", None) != "multiple_choice" or getattr(task, "multiple_input", False):
        raise TaskError(f"task '{name}' is an lm-eval {getattr(task, 'OUTPUT_TYPE', '?')} task: generative tasks "
                        f"train from t2eval's own task configs ({', '.join(config_task_names())}, cls), and lm-eval "
                        "tasks only when they are multiple_choice with one context per document (--objective choice)")
    if not task.has_training_docs():
        raise TaskError(f"task '{name}' has no training split; train on a task that has one and "
                        "evaluate on this one")

    def with_gold(rows) -> list[tuple[dict, object]]:
        built = [(d, choice_item(task, d)) for d in (dict(row) for row in rows)]
        return [(d, it) for d, it in built if 0 <= it.gold < len(it.pairs)]  # lm-eval's -100: no gold

    built = with_gold(task.training_docs())
    if val_split == HALF:
        train, val = halve([d for d, _ in built], seed)
    elif val_split == "validation" and task.has_validation_docs():
        held = with_gold(task.validation_docs())
        train, val = [d for d, _ in built], [d for d, _ in held]
        built += held
    else:
        raise TaskError(f"val_split={val_split!r}: lm-eval task '{name}' offers "
                        f"{'half, validation' if task.has_validation_docs() else 'half'}")
    items = {id(d): (d, it) for d, it in built}  # built once per training document

    def item(doc: dict, tokenizer=None):
        known, found = items.get(id(doc), (None, None))
        return found if known is doc else choice_item(task, doc)  # any other document: built now

    return TrainTask(name=name, label=label_of_task(name), prompt=lambda d: item(d).pairs[0][0], score=None,
                     train_docs=train, val_docs=val, max_gen_toks=0, chat=False, choice=item)


def build_cls_task(seed: int = 0, data_dir: str | None = None) -> TrainTask:
    """The classification task of z_c (benchmark ``dispatch_t2``): the source expert tasks'
    train/validation halves as pass-1 prompts (the backend's
    ``classification_prompt(question_of(doc))``) with gold labels math / code / reasoning,
    balanced per label, shuffled. Reward: ``score_dispatch``."""
    parts: dict[str, list[list[dict]]] = {"train": [], "val": []}
    for source in SOURCES:
        task = build_task(source.name, seed, data_dir)
        for split, docs in (("train", task.train_docs), ("val", task.val_docs)):
            parts[split].append([{"question": question_of(d, task.prompt(d)), "label": task.label}
                                 for d in docs])
    pooled = {}
    for split, groups in parts.items():
        per_label = min(len(g) for g in groups)
        rows = [row for g in groups for row in g[:per_label]]
        random.Random(f"t2eval-cls:{seed}:{split}").shuffle(rows)
        pooled[split] = rows

    return TrainTask(name="cls", label=DISPATCH.label, prompt=DISPATCH.prompt,
                     score=DISPATCH.rewards, train_docs=pooled["train"], val_docs=pooled["val"],
                     stop=list(PASS1_GEN["until"]), max_gen_toks=int(PASS1_GEN["max_gen_toks"]),
                     reference=DISPATCH.reference, choice=cls_choice)


def cls_choice(doc: dict, tokenizer, layout: str = "system"):
    """Pass 1 in score mode (the backend's default) as a choice over the labels: the
    classification chat in ``layout`` with the assistant turn opened by ``Classification:
    \\boxed{``; each label is one continuation (``--objective choice`` trains z_c on exactly
    the decision ``dispatch=score`` makes)."""
    context = tokenizer.apply_chat_template(pass1_messages(doc["question"], layout), add_generation_prompt=True,
                                            tokenize=False) + ANSWER_PREFIX
    labels = [label + LABEL_END for label in PASS1_LABELS]
    return ChoiceItem([(context, label) for label in labels], PASS1_LABELS.index(doc["label"]),
                      [float(len(label)) for label in labels])
