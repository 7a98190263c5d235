"""Training tasks: the evaluation's own prompts, stop strings and scorers.

A task name is an lm-eval task of ``task_configs/`` whose benchmark (:mod:`t2eval.benchmarks`)
has a training split (``gsm8k_t2``, ``arith_t2``, ``mbpp_t2``, ``arc_easy_t2``,
``arc_challenge_t2``, ``math``), or ``cls`` (the pass-1 classification task pooled from gsm8k /
mbpp / arc_easy), or ``module:function`` returning a :class:`TrainTask` (used by the tests' toy
task), or any other lm-eval task: a multiple-choice one (``--objective choice``) or a
``generate_until`` one (``--objective rl``: the task's own filter and metric are the reward;
``--objective sft``: its ``doc_to_target`` is the reference; see :mod:`t2eval.harness.generative`
and :class:`StockOptions`). A stock task trains on its training split and validates on half of it
(``val_split=half``) or on its validation split when lm-eval scores another one; the split lm-eval
scores is never read, and a task with no training split is refused.

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


from t2eval.benchmarks import BENCHMARKS, Benchmark, label_of_task, task_dir, task_yaml
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
    renderer: Callable[[dict, object], str] | None = None  # (doc, tokenizer) -> whole prompt (stock tasks)
    provenance: dict = field(default_factory=dict)  # what the trained artifact records of the task

    def render(self, doc: dict, tokenizer) -> str:
        if self.renderer is not None:
            return self.renderer(doc, tokenizer)
        text = self.prompt(doc)
        if self.chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                 add_generation_prompt=True, tokenize=False)
        return text + (self.prefix(doc) if self.prefix else "")


@dataclass(frozen=True)
class StockOptions:
    """How a stock lm-eval ``generate_until`` task is trained (settings of the same names)."""

    num_fewshot: int = 0  # shots in each training prompt (lm-eval's --num_fewshot)
    chat: str = "auto"  # auto (when the tokenizer has a chat template) | on | off: --apply_chat_template
    reward_filter: str | None = None  # the task's filter pipeline whose output is scored (default: first)
    reward_metric: str | None = None  # the task's metric that is the reward (default: first)
    reward_threshold: float | None = None  # reward 1 when metric >= this (None: the metric must be 0/1)
    reference_field: str | None = None  # --objective sft: this document field instead of doc_to_target

    @classmethod
    def of(cls, cfg) -> "StockOptions":
        """The options of a :class:`~t2eval.train.config.TrainConfig`."""
        return cls(**{f: getattr(cfg, f) for f in cls.__dataclass_fields__})


# ----------------------------------------------------------------------------- task YAMLs


def config_task_names() -> list[str]:
    """The lm-eval tasks of t2eval's task_configs/ (YAMLs not starting with ``_``)."""
    return sorted(p.stem for p in task_dir().glob("*.yaml") if not p.stem.startswith("_"))


def read_task_yaml(task: str) -> dict:
    """The merged YAML of an lm-eval task of task_configs/ (``include`` resolved)."""
    config = task_yaml(task)
    if config is None:
        raise TaskError(f"unknown task '{task}'; trainable tasks come from {task_dir()}: "
                        f"{', '.join(config_task_names())} (plus 'cls')")
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


def build_task(name: str, seed: int = 0, data_dir: str | None = None, val_split: str = HALF,
               stock: StockOptions | None = None) -> TrainTask:
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
        return build_stock_task(name, seed, val_split, stock or StockOptions())
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


def build_stock_task(name: str, seed: int = 0, val_split: str = HALF,
                     stock: StockOptions | None = None) -> TrainTask:
    """Any lm-eval task not of t2eval's task_configs: multiple choice (``--objective choice``)
    or ``generate_until`` (``--objective rl`` / ``sft``). Its data comes offline from
    ``t2eval data import DIR`` (or the hub cache)."""
    task = lm_eval_task(name)
    if task is None:
        raise TaskError(f"unknown task '{name}': neither t2eval's task_configs ({', '.join(config_task_names())}, "
                        "cls) nor lm-eval know it")
    kind = getattr(task, "OUTPUT_TYPE", None)
    if kind == "multiple_choice" and not getattr(task, "multiple_input", False):
        return build_choice_task(name, seed, val_split)
    if kind == "generate_until":
        return build_generative_task(name, seed, val_split, stock or StockOptions())
    raise TaskError(f"task '{name}' is an lm-eval {kind} task: t2eval trains on generate_until tasks "
                    "(--objective rl or sft) and multiple_choice tasks with one context per document "
                    "(--objective choice)")


def stock_splits(task, val_split: str, seed: int, keep: Callable[[dict], bool] = lambda d: True,
                 ) -> tuple[list[dict], list[dict]]:
    """(train, validation) documents of an lm-eval task: its training split halved
    (``val_split=half``), or whole with its validation split as validation — never the split
    lm-eval scores (its test split, else its validation split)."""
    name = task.config.task
    scored = "test" if task.has_test_docs() else "validation" if task.has_validation_docs() else "?"
    if not task.has_training_docs():
        raise TaskError(
            f"lm-eval task '{name}' has no training split, only the split it scores ({scored}); training on it "
            "would train on the test. Hold documents out in a task of your own: a YAML that includes this one "
            "(`include: <its yaml>`) with `training_split:` and `test_split:` naming disjoint splits (e.g. a "
            "`custom_dataset` or `process_docs` that splits the documents), then train on that task and evaluate "
            "on its test split")
    train = [d for d in (dict(row) for row in task.training_docs()) if keep(d)]
    if val_split == HALF:
        return halve(train, seed)
    if val_split == "validation" and task.has_validation_docs() and task.has_test_docs():
        return train, [d for d in (dict(row) for row in task.validation_docs()) if keep(d)]
    offers = "half, validation" if task.has_validation_docs() and task.has_test_docs() else "half"
    raise TaskError(f"val_split={val_split!r}: lm-eval task '{name}' offers {offers} (its {scored} split is "
                    "the one lm-eval scores, never read in training)")


def build_choice_task(name: str, seed: int = 0, val_split: str = HALF) -> TrainTask:
    """A multiple-choice lm-eval task (stock ``arc_easy``, ``arc_challenge``, …) for
    ``--objective choice``: every document as the requests lm-eval scores
    (:mod:`t2eval.train.choice`); documents with no gold choice (lm-eval's -100) are left out."""
    task = lm_eval_task(name)
    items: dict[int, tuple[dict, ChoiceItem]] = {}  # built once per training document

    def has_gold(doc: dict) -> bool:
        found = choice_item(task, doc)
        items[id(doc)] = (doc, found)
        return 0 <= found.gold < len(found.pairs)

    train, val = stock_splits(task, val_split, seed, keep=has_gold)

    def item(doc: dict, tokenizer=None):
        known, found = items.get(id(doc), (None, None))
        return found if known is doc else choice_item(task, doc)  # any other document: built now

    return TrainTask(name=name, label=label_of_task(name), prompt=lambda d: item(d).pairs[0][0], score=None,
                     train_docs=train, val_docs=val, max_gen_toks=0, chat=False, choice=item)


def build_generative_task(name: str, seed: int = 0, val_split: str = HALF,
                          stock: StockOptions | None = None) -> TrainTask:
    """A ``generate_until`` lm-eval task for ``--objective rl`` (reward: the task's own filter
    and metric) or ``--objective sft`` (reference: ``doc_to_target``), prompts rendered as lm-eval
    renders them (:mod:`t2eval.harness.generative`)."""
    from ..harness import generative  # imports lm-eval: only when a stock generative task is trained

    stock = stock or StockOptions()
    if stock.chat not in ("auto", "on", "off"):
        raise TaskError(f"chat={stock.chat!r}: expected auto, on or off")
    if stock.num_fewshot < 0:
        raise TaskError(f"num_fewshot must be >= 0, got {stock.num_fewshot}")
    task = lm_eval_task(name)
    train, val = stock_splits(task, val_split, seed)
    try:
        reward = generative.reward_of(task, stock.reward_filter, stock.reward_metric, stock.reward_threshold)
        if stock.reference_field is not None and train:
            generative.reference(task, train[0], stock.reference_field)  # a wrong field fails now
    except generative.GenerativeTaskError as err:
        raise TaskError(str(err)) from err
    stop, max_gen_toks = generative.generation(task)

    def chat(tokenizer) -> bool:
        return stock.chat == "on" or (stock.chat == "auto" and bool(getattr(tokenizer, "chat_template", None)))

    def score(responses: list[str], docs: list[dict]) -> list[float]:
        try:
            return generative.rewards(task, reward, responses, docs)
        except generative.GenerativeTaskError as err:
            raise TaskError(str(err)) from err

    return TrainTask(name=name, label=label_of_task(name), prompt=lambda d: str(task.doc_to_text(d)), score=score,
                     train_docs=train, val_docs=val, stop=stop, max_gen_toks=max_gen_toks,
                     reference=lambda d: generative.reference(task, d, stock.reference_field),
                     renderer=lambda d, tok: generative.render(task, d, tok, chat(tok), stock.num_fewshot),
                     provenance={"lm_eval_task": {"reward": vars(reward), "num_fewshot": stock.num_fewshot,
                                                  "chat": stock.chat, "reference_field": stock.reference_field}})


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
