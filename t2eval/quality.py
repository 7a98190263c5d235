"""The expert-quality gate behind `t2eval check`.

``experts/<model-slug>/quality.toml`` states, per shipped expert, what it is judged on and
the bounds it must keep::

    model = "smollm2-135m-instruct"

    [experts.reasoning]
    task = "arc_easy"           # a task of task_configs/ (cls: dispatch_t2) or a stock lm-eval
                                # multiple-choice task (the experts trained with --objective choice)
    chat = false                # score slice with --apply_chat_template (default true)
    mode = "score"              # dispatch_t2 only: judge pass 1 as the backend runs it by default
                                # (dispatch=score, system layout, options) instead of lm-eval's
                                # generated label; NLL = the gold label's under the label policy
    split = "validation"        # where the slices come from: validation (default for new bounds:
                                # the task's own validation split, else the trainer's held-out half;
                                # never the test split) | test (the first N test documents, through
                                # lm-eval; bounds written before the gate moved off the test split)
    limit = 200                 # score slice: the first N documents of the split (0: no score slice)
    base = 0.34                 # the base model on that slice (when written)
    score = 0.38                # the expert on that slice (when written)
    min = 0.36                  # the gate: fail below this; never below base
    nll_docs = 32               # reference-answer slice (first N documents of the split; multiple-
                                # choice tasks: the NLL of the gold choice under the choice policy)
    nll_base = 1.52             # mean per-token NLL of the reference answers, base model
    nll = 1.49                  # ... with the expert
    nll_max = 1.52              # the gate: fail above this
    fingerprint = "ab12..."     # sha256 of the expert's z: a changed file needs new bounds

Checks, in order: the file exists and loads; its base-model fingerprint is the model's; its
z fingerprint is the one the bounds were measured on; the score slice stays >= ``min`` (on a
validation slice: the trainer's scoring in-process — greedy answers scored by the task, or
lm-eval's log-likelihood choice for multiple-choice tasks, both tested equal to lm-eval's; on a
test slice: lm-eval itself, the ``t2`` backend with the expert fixed); the mean NLL of
the task's reference answers (the ``--objective sft`` targets) with the expert stays
<= ``nll_max``. The NLL bound is what catches a degraded expert on tasks where a 135M model
scores 0 anyway (GSM8K, MBPP): any perturbation of z moves it.

``--update`` writes ``min = max(base, score - margin)`` (margin: 2 documents of the slice, for
float noise across machines; the slices are greedy and deterministic), and refuses an expert
that scores below the base model on its slice: such an expert must not be shipped.
"""

from __future__ import annotations

import logging
import math
import tomllib
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .benchmarks import task_dir as task_configs_dir
from .benchmarks.dispatch import dispatch_pool
from .harness.tasks import evaluate, lm_eval_task
from .models import DEFAULT_MODEL, load_model
from .report.runs import primary_metric
from .svf import ExpertError, SVFAdapter, decompose, load_expert
from .svf.fingerprint import model_fingerprint
from .train.choice import choice_eval
from .train.data import build_cls_task, build_task, read_task_yaml
from .train.objective import reference_nll
from .train.objectives import greedy_correct

log = logging.getLogger(__name__)

SCORE_MARGIN_DOCS = 2    # min = measured score - 2 documents of the slice (never below base)
NLL_MARGIN = 0.02        # nll_max = measured NLL * (1 + margin) + NLL_FLOOR
NLL_FLOOR = 1e-3         # float noise when the measured NLL is ~0 (a saturated label policy)
SPLITS = ("validation", "test")


class GateError(ValueError):
    """quality.toml is missing, malformed, or names an unknown expert or task."""


@dataclass
class Bound:
    expert: str
    task: str
    limit: int = 0
    min: float | None = None
    nll_docs: int = 0
    nll_max: float | None = None
    fingerprint: str | None = None
    chat: bool = True
    mode: str = "generate"
    split: str = "test"  # absent from a quality.toml: its bounds were measured on the test split
    recorded: dict = field(default_factory=dict)


@dataclass
class Failure:
    expert: str
    what: str

    def __str__(self) -> str:
        return f"FAIL {self.expert}: {self.what}"


def read_gate(path: str | Path) -> tuple[str, list[Bound]]:
    path = Path(path)
    if not path.is_file():
        raise GateError(f"no quality file at {path}; write one with `t2eval check --update` "
                        "(see t2eval/quality.py for the format)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise GateError(f"{path} is not valid TOML: {err}") from err
    entries = data.get("experts") or {}
    if not entries:
        raise GateError(f"{path} has no [experts.<name>] tables")
    bounds = []
    for name, entry in entries.items():
        if "task" not in entry:
            raise GateError(f"{path}: [experts.{name}] needs a task")
        keys = ("limit", "min", "nll_docs", "nll_max", "fingerprint", "chat", "mode", "split")
        if entry.get("split", "test") not in SPLITS:
            raise GateError(f"{path}: [experts.{name}] split = {entry['split']!r}: expected one of {', '.join(SPLITS)}")
        bounds.append(Bound(name, entry["task"], **{k: entry[k] for k in keys if k in entry}, recorded=entry))
    return data.get("model", DEFAULT_MODEL), bounds


# ----------------------------------------------------------------------------- measuring


def score_slice(model: str, experts: Path, strategy: str, task: str, limit: int,
                chat: bool = True) -> tuple[float, str]:
    """(primary metric, its name) of lm-eval on the first ``limit`` test documents."""
    import torch

    out = evaluate(model="t2", model_args={"pretrained": model, "experts": str(experts),
                                                  "strategy": strategy},
                          tasks=[task], limit=limit, apply_chat_template=chat, batch_size=8,
                          device="cuda" if torch.cuda.is_available() else "cpu")
    result = out["results"][task]
    metric = primary_metric(result, out.get("higher_is_better", {}).get(task))
    return float(result[metric]), metric.split(",")[0]


def eval_docs(task: str, n: int, data_dir: str | None = None, split: str = "test") -> tuple[object, list[dict]]:
    """The training task of ``task`` (prompts, references, scorer) and the first ``n`` documents
    of ``split``: ``test``, or ``validation`` — the task's own validation split where lm-eval
    scores another one (stock ARC-Easy's 570), else the dataset's own validation split (arith_t2:
    the structure groups held out of train), else the trainer's held-out half of the training
    split (the pooled cls prompts for dispatch_t2). A validation slice never reads a test split."""
    from .benchmarks import BENCHMARKS
    from .data import load_split  # heavy: t2eval.data imports datasets

    stock = not (task_configs_dir() / f"{task}.yaml").is_file()
    trained = build_cls_task(0, data_dir) if task == "dispatch_t2" else build_task(task, 0, data_dir)
    if split == "validation":
        found = lm_eval_task(task) if stock else None
        bench = BENCHMARKS.get(task) if not stock and task in BENCHMARKS else None
        if found is not None and found.has_validation_docs() and found.has_test_docs():
            docs = [dict(d) for d in found.validation_docs()]
        elif bench is not None and bench.dataset and bench.validation_split:
            docs = [dict(d) for d in load_split(bench.dataset, bench.validation_split, data_dir=data_dir)]
        else:
            docs = trained.val_docs
        return trained, docs[:n]
    if stock:  # a stock multiple-choice task (or a clear error, from build_task)
        docs = lm_eval_task(task).test_docs()
        return trained, [dict(docs[i]) for i in range(min(n, len(docs)))]
    if task == "dispatch_t2":
        return trained, dispatch_pool(100, 1234)[:n]
    config = read_task_yaml(task)
    dataset = (config.get("dataset_kwargs") or {}).get("dataset") or config.get("dataset_name")
    docs = load_split(dataset, config.get("test_split", "test"), data_dir=data_dir)
    return trained, [dict(docs[i]) for i in range(min(n, len(docs)))]


def validation_score(model, tokenizer, task, docs: list[dict], choice: bool, batch: int = 8) -> float:
    """Accuracy on validation documents with whatever weights the model holds: the
    log-likelihood choice (``choice``), else greedy answers scored by the task."""
    if choice:
        return choice_eval(model, tokenizer, [task.choice(d, tokenizer) for d in docs], batch=batch)[0]
    return greedy_correct(model, tokenizer, task, docs, task.max_gen_toks, batch) / max(1, len(docs))


def slice_nll(model, tokenizer, task, docs: list[dict], choice: bool = False) -> float:
    """Mean NLL of the reference answers (``choice``: of the gold choice under the choice policy)."""
    if choice:
        return choice_eval(model, tokenizer, [task.choice(d, tokenizer) for d in docs])[1]
    return reference_nll(model, tokenizer, task, docs)


def pass1_accuracy(model, tokenizer, n: int, data_dir: str | None = None, split: str = "test") -> float:
    """Score-mode pass-1 accuracy (the backend's default dispatch) on the first ``n``
    dispatch documents of ``split``, with whatever weights the model holds."""
    task, docs = eval_docs("dispatch_t2", n, data_dir, split)
    return choice_eval(model, tokenizer, [task.choice(d, tokenizer) for d in docs])[0]


def slice_score(bound: Bound, model, tokenizer, model_name: str, experts_dir: Path, data_dir: str | None,
                weights, with_expert: bool) -> tuple[float, str]:
    """(score, metric name) of the bound's score slice: the expert (``with_expert``) or the base.
    ``weights``: the context that installs them in ``model`` (in-process slices)."""
    if bound.mode == "score":
        with weights:
            return pass1_accuracy(model, tokenizer, bound.limit, data_dir, bound.split), "pass-1 accuracy (dispatch=score)"
    if bound.split == "validation":
        task, docs = eval_docs(bound.task, bound.limit, data_dir, bound.split)
        with weights:
            return validation_score(model, tokenizer, task, docs, choice=task.score is None), "accuracy"
    strategy = f"expert:{bound.expert}" if with_expert else "none"
    return score_slice(model_name, experts_dir, strategy, bound.task, bound.limit, bound.chat)


# ----------------------------------------------------------------------------- the gate


def check_expert(bound: Bound, model, tokenizer, model_name: str, experts_dir: Path, fingerprint: str,
                 update: bool = False, data_dir: str | None = None, say=log.info) -> tuple[list[Failure], dict]:
    """Check one expert against its bounds; returns (failures, measured values)."""
    path = experts_dir / f"{bound.expert}.safetensors"
    try:
        expert = load_expert(path)
    except (ExpertError, OSError) as err:
        return [Failure(bound.expert, f"cannot load {path}: {err}")], {}
    if expert.base_fingerprint != fingerprint:
        return [Failure(bound.expert, f"{path} was made for base weights {expert.base_fingerprint[:12]} but "
                                      f"{model_name} has {fingerprint[:12]}: retrain it for this model")], {}
    measured = {"fingerprint": expert.fingerprint}
    if bound.fingerprint and expert.fingerprint != bound.fingerprint and not update:
        return [Failure(bound.expert, f"{path} changed since its bounds were measured (z fingerprint "
                                      f"{expert.fingerprint[:12]}, bounds for {bound.fingerprint[:12]}): "
                                      "re-measure with `t2eval check --update` and commit quality.toml")], measured
    failures = []
    where = f"{bound.split} documents"
    in_process = bound.nll_docs or bound.mode == "score" or bound.split == "validation"
    adapter = SVFAdapter(model, decompose(model, expert.targets, progress=False)) if in_process else None
    if bound.nll_docs:
        task, docs = eval_docs(bound.task, bound.nll_docs, data_dir, bound.split)
        choice = bound.mode == "score" or task.score is None  # stock multiple-choice: no reference answers
        nll_name = "gold-choice NLL" if choice else "reference-answer NLL"
        with adapter.applied(expert):
            measured["nll"] = slice_nll(model, tokenizer, task, docs, choice)
        if update:
            measured["nll_base"] = slice_nll(model, tokenizer, task, docs, choice)
        elif bound.nll_max is not None and measured["nll"] > bound.nll_max:
            failures.append(Failure(bound.expert, f"{bound.task}: {nll_name} on {len(docs)} {where} "
                                                  f"= {measured['nll']:.4f} > bound {bound.nll_max:.4f} "
                                                  f"(base {bound.recorded.get('nll_base', '?')})"))
        say(f"  {bound.expert}: {bound.task} {nll_name} {measured['nll']:.4f} (bound {bound.nll_max})")
    if bound.limit:
        def score(with_expert: bool) -> tuple[float, str]:
            return slice_score(bound, model, tokenizer, model_name, experts_dir, data_dir,
                               adapter.applied(expert) if with_expert else nullcontext(), with_expert)

        measured["score"], metric = score(True)
        if update:
            measured["base"], _ = score(False)
        if update and measured["score"] < measured["base"]:
            failures.append(Failure(bound.expert, f"{bound.task}: {metric} on {bound.limit} {where} = "
                                                  f"{measured['score']:.4f} < base {measured['base']:.4f}: an "
                                                  "expert that does not beat the base model is not shipped"))
        elif not update and bound.min is not None and measured["score"] < bound.min:
            failures.append(Failure(bound.expert, f"{bound.task}: {metric} on {bound.limit} {where} = "
                                                  f"{measured['score']:.4f} < min {bound.min:.4f} "
                                                  f"(base {bound.recorded.get('base', '?')})"))
        say(f"  {bound.expert}: {bound.task} {metric} on {where} {measured['score']:.4f} (min {bound.min})")
    return failures, measured


def run_gate(gate_path: str | Path, experts_dir: str | Path | None = None, update: bool = False,
             data_dir: str | None = None, say=log.info) -> list[Failure]:
    """Check every expert of ``gate_path``; with ``update``, re-measure and rewrite the bounds."""
    gate_path = Path(gate_path)
    experts_dir = Path(experts_dir) if experts_dir else gate_path.parent
    model_name, bounds = read_gate(gate_path)
    model, tokenizer = load_model(model_name)
    fingerprint = model_fingerprint(model)
    failures, results = [], {}
    for bound in bounds:
        say(f"checking {bound.expert} on {bound.task}")
        found, measured = check_expert(bound, model, tokenizer, model_name, experts_dir, fingerprint, update,
                                       data_dir, say)
        failures += found
        results[bound.expert] = measured
    if update and not failures:
        write_gate(gate_path, model_name, bounds, results)
        say(f"wrote {gate_path}")
    return failures


def write_gate(path: Path, model_name: str, bounds: list[Bound], measured: dict) -> None:
    """Rewrite quality.toml with the measured values and bounds derived from them."""
    lines = ["# The expert-quality gate of `t2eval check` (format: t2eval/quality.py).",
             "# Measured by `t2eval check --update`; min = max(base, score - %d documents), "
             "nll_max = nll * %.2f + %g." % (SCORE_MARGIN_DOCS, 1 + NLL_MARGIN, NLL_FLOOR), f'model = "{model_name}"', ""]
    for b in bounds:
        m = measured[b.expert]
        entry = {"task": b.task, "split": b.split, "limit": b.limit}
        if not b.chat:
            entry["chat"] = False
        if b.mode != "generate":
            entry["mode"] = b.mode
        if b.limit:
            floor = m["score"] - SCORE_MARGIN_DOCS / b.limit
            entry.update(base=m["base"], score=m["score"], min=math.floor(max(m["base"], floor) * 1e4) / 1e4)
        entry["nll_docs"] = b.nll_docs
        if b.nll_docs:
            entry.update(nll_base=round(m["nll_base"], 5), nll=round(m["nll"], 5),
                         nll_max=round(m["nll"] * (1 + NLL_MARGIN) + NLL_FLOOR, 5))
        entry["fingerprint"] = m["fingerprint"]
        lines.append(f"[experts.{b.expert}]")
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items()]
        lines.append("")
    path.write_text("\n".join(lines))


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
