"""Training tasks: the evaluation's own prompts, stop strings and scorers.

A task name is an lm-eval task of ``task_configs/`` with a ``training_split`` (``gsm8k_t2``,
``mbpp_t2``, ``arc_easy_t2``, ``arc_challenge_t2``, ``math``), or ``cls`` (the pass-1
classification task pooled from gsm8k / mbpp / arc_easy), or ``module:function`` returning
a :class:`TrainTask` (used by the tests' toy task).

Prompts are rendered exactly as ``lm_eval ... --apply_chat_template`` renders them: the task's
``doc_to_text`` as the only user turn of the tokenizer's chat template, with the generation
prompt; generation stops at the YAML's ``generation_kwargs.until``. The training split is
halved into train / validation with a seeded shuffle (``val_split="half"``, the paper's recipe),
or trained on whole and validated on the dataset's own split named by ``val_split`` (e.g.
MBPP's ``validation``: 374 train / 90 validation instead of 187 / 187); the test split is never read.
"""

from __future__ import annotations

import importlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

LABELS = {"gsm8k": "math", "arith": "math", "math": "math", "mbpp": "code", "arc_easy": "reasoning",
          "arc_challenge": "reasoning"}


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


def task_configs_dir() -> Path:
    import t2eval.task_configs as pkg

    return Path(pkg.__file__).parent


def config_task_names() -> list[str]:
    """The lm-eval tasks of t2eval's task_configs/ (YAMLs not starting with ``_``)."""
    return sorted(p.stem for p in task_configs_dir().glob("*.yaml") if not p.stem.startswith("_"))


def read_task_yaml(task: str) -> dict:
    """The merged YAML of an lm-eval task of task_configs/ (``include`` resolved)."""
    folder = task_configs_dir()
    path = folder / f"{task}.yaml"
    if not path.is_file():
        raise TaskError(f"unknown task '{task}'; trainable tasks come from {folder}: "
                        f"{', '.join(config_task_names())} (plus 'cls')")
    config = yaml.load(path.read_text(), Loader=_YamlLoader) or {}
    if "include" in config:
        base = yaml.load((folder / config.pop("include")).read_text(), Loader=_YamlLoader) or {}
        config = {**base, **config}
    return config


def _function(ref) -> Callable:
    """Resolve ``("!function", "utils.name")`` to the function in task_configs/utils.py."""
    if not (isinstance(ref, tuple) and ref[0] == "!function"):
        raise TaskError(f"expected a !function reference, got {ref!r}")
    module, attr = ref[1].rsplit(".", 1)
    return getattr(importlib.import_module(f"t2eval.task_configs.{module}"), attr)


def halve(docs: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle, then first half = train, second half = validation (the paper's recipe)."""
    order = list(range(len(docs)))
    random.Random(f"t2eval-halve:{seed}").shuffle(order)
    half = len(order) // 2
    return [docs[i] for i in order[:half]], [docs[i] for i in order[half:]]


def _load_train_split(dataset: str, data_dir: str | None, split: str = "train") -> list[dict]:
    from t2eval.data import load_split

    return [dict(row) for row in load_split(dataset, split, data_dir=data_dir)]


def _train_val(dataset: str, config: dict, seed: int, data_dir: str | None,
               val_split: str) -> tuple[list[dict], list[dict]]:
    """Train / validation documents of a task YAML's dataset: the training split halved, or
    whole with ``val_split`` as validation (never the YAML's test split)."""
    train = _load_train_split(dataset, data_dir, config.get("training_split") or "train")
    if val_split == HALF:
        return halve(train, seed)
    if val_split == config.get("test_split"):
        raise TaskError(f"val_split={val_split!r} is the test split of {dataset}; the test split is never "
                        "read in training (use val_split=half or the dataset's validation split)")
    from t2eval.data import UnknownSplitError

    try:
        return train, _load_train_split(dataset, data_dir, val_split)
    except UnknownSplitError as err:
        raise TaskError(f"val_split={val_split!r}: {err}") from err


# ----------------------------------------------------------------------------- scorers


def _per_doc(scorer) -> Callable[[list[str], list[dict]], list[float]]:
    return lambda responses, docs: [float(scorer(r, d)) for r, d in zip(responses, docs)]


def score_mbpp_batch(responses: list[str], docs: list[dict]) -> list[float]:
    """MBPP rewards for a batch of completions of the prefilled head (the reference format),
    judged in parallel boxes (``check_many``)."""
    from t2eval import scoring
    from t2eval.sandbox import check_many

    verdicts = check_many([lambda r=r, d=d: scoring.judge_mbpp(r, d, completion=True)
                           for r, d in zip(responses, docs)])
    for verdict in verdicts:
        scoring._surface(verdict, "an MBPP rollout")
    return [float(v.passed) for v in verdicts]


def _scorer(dataset: str):
    from t2eval import scoring

    table = {"gsm8k": _per_doc(scoring.score_gsm8k), "arith": _per_doc(scoring.score_gsm8k), "math": _per_doc(scoring.score_math),
             "arc_easy": _per_doc(scoring.score_arc), "arc_challenge": _per_doc(scoring.score_arc),
             "mbpp": score_mbpp_batch}
    if dataset not in table:
        raise TaskError(f"no training reward for dataset '{dataset}'")
    return table[dataset]


# ----------------------------------------------------------------------------- references (sft)


_CALC = re.compile(r"<<[^>]*>>")


def gsm8k_reference(doc: dict) -> str:
    """The GSM8K solution without calculator annotations, ending as the prompt asks."""
    body, _, answer = doc["answer"].partition("####")
    return f"{_CALC.sub('', body).strip()}\nThe answer is {answer.strip()}."


def mbpp_completion(doc: dict) -> str:
    """The reference solution as a completion of ``scoring.code_prefix(doc)``: the tested
    function's body (re-indented to 4 spaces, its first line's indentation prefilled) and
    whatever follows it, then the closing fence."""
    from t2eval import scoring

    lines, start = scoring.mbpp_solution_lines(doc)
    if start is None:
        return "pass\n```"
    body = lines[start + 1:]
    first = next((line for line in body if line.strip()), "    pass")
    width = len(first) - len(first.lstrip(" "))
    out = [scoring.BODY_INDENT + line[width:] if width and line.startswith(" " * width) else line for line in body]
    return "\n".join(out).lstrip(" ") + "\n```"


def _reference(dataset: str):
    from t2eval import scoring

    return {"gsm8k": gsm8k_reference, "arith": gsm8k_reference,
            "math": lambda d: d["solution"],
            "mbpp": mbpp_completion,
            "arc_easy": scoring.arc_gold_letter, "arc_challenge": scoring.arc_gold_letter}.get(dataset)


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
    if not (task_configs_dir() / f"{name}.yaml").is_file():
        return build_choice_task(name, seed, data_dir, val_split)
    config = read_task_yaml(name)
    if not config.get("training_split"):
        raise TaskError(f"task '{name}' has no training split (its YAML sets only "
                        f"test_split={config.get('test_split')!r}); train on gsm8k_t2, mbpp_t2, "
                        "arc_easy_t2, arc_challenge_t2, math or cls, and evaluate on this one")
    dataset = (config.get("dataset_kwargs") or {}).get("dataset") or config.get("dataset_name")
    if dataset not in LABELS:
        raise TaskError(f"task '{name}' (dataset {dataset!r}) has no training reward; "
                        f"supported datasets: {', '.join(LABELS)}")
    gen = config.get("generation_kwargs") or {}
    train, val = _train_val(dataset, config, seed, data_dir, val_split)
    prefix = None
    if config.get("gen_prefix"):  # the code tasks' reference format: the answer starts prefilled
        from t2eval.scoring import code_prefix as prefix
    return TrainTask(name=name, label=LABELS[dataset], prompt=_function(config["doc_to_text"]),
                     score=_scorer(dataset), train_docs=train, val_docs=val,
                     stop=list(gen.get("until") or []), max_gen_toks=int(gen.get("max_gen_toks", 256)),
                     reference=_reference(dataset), prefix=prefix)


def build_choice_task(name: str, seed: int = 0, data_dir: str | None = None,
                      val_split: str = HALF) -> TrainTask:
    """A multiple-choice lm-eval task (stock ``arc_easy``, ``arc_challenge``, …) for
    ``--objective choice``: its training split halved into train / validation, every document
    as the requests lm-eval scores (:mod:`t2eval.train.choice`). Its test split is never read."""
    from .choice import choice_item, lm_eval_task

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

    label = next((lab for prefix, lab in LABELS.items() if name.startswith(prefix)), "reasoning")
    return TrainTask(name=name, label=label, prompt=lambda d: item(d).pairs[0][0], score=None,
                     train_docs=train, val_docs=val, max_gen_toks=0, chat=False, choice=item)


CLS_SOURCES = ("gsm8k_t2", "mbpp_t2", "arc_easy_t2")


def build_cls_task(seed: int = 0, data_dir: str | None = None) -> TrainTask:
    """The classification task of z_c: the three expert tasks' train/validation halves as
    pass-1 prompts (the backend's ``classification_prompt(question_of(doc))``) with gold
    labels math / code / reasoning, balanced per label, shuffled. Reward: ``score_dispatch``."""
    from t2eval.dispatch import classification_prompt, question_of
    from t2eval.dispatch import PASS1_GEN

    parts: dict[str, list[list[dict]]] = {"train": [], "val": []}
    for source in CLS_SOURCES:
        task = build_task(source, seed, data_dir)
        for split, docs in (("train", task.train_docs), ("val", task.val_docs)):
            parts[split].append([{"question": question_of(d, task.prompt(d)), "label": task.label}
                                 for d in docs])
    pooled = {}
    for split, groups in parts.items():
        per_label = min(len(g) for g in groups)
        rows = [row for g in groups for row in g[:per_label]]
        random.Random(f"t2eval-cls:{seed}:{split}").shuffle(rows)
        pooled[split] = rows

    from t2eval.scoring import score_dispatch

    return TrainTask(name="cls", label="cls", prompt=lambda d: classification_prompt(d["question"]),
                     score=_per_doc(score_dispatch), train_docs=pooled["train"], val_docs=pooled["val"],
                     stop=list(PASS1_GEN["until"]), max_gen_toks=int(PASS1_GEN["max_gen_toks"]),
                     reference=lambda d: f"Classification: \\boxed{{{d['label']}}}", choice=cls_choice)


def cls_choice(doc: dict, tokenizer, layout: str = "system"):
    """Pass 1 in score mode (the backend's default) as a choice over the labels: the
    classification chat in ``layout`` with the assistant turn opened by ``Classification:
    \\boxed{``; each label is one continuation (``--objective choice`` trains z_c on exactly
    the decision ``dispatch=score`` makes)."""
    from t2eval.dispatch import LABELS as PASS1_LABELS
    from t2eval.dispatch.prompt import ANSWER_PREFIX, LABEL_END, pass1_messages

    from .choice import ChoiceItem

    context = tokenizer.apply_chat_template(pass1_messages(doc["question"], layout), add_generation_prompt=True,
                                            tokenize=False) + ANSWER_PREFIX
    labels = [label + LABEL_END for label in PASS1_LABELS]
    return ChoiceItem([(context, label) for label in labels], PASS1_LABELS.index(doc["label"]),
                      [float(len(label)) for label in labels])
