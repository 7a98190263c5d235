"""Read lm-eval results files and t2eval training runs into flat, traceable records.

Every number a report prints comes from one :class:`Score` (or :class:`TrainingRun`), and
each keeps the file it was read from. The method of a results file is read from what the
file itself says (``config.model``, ``model_args``, and the ``t2`` provenance block), never
from its folder name:

=================================  ==========================================================
method key                          results written by
=================================  ==========================================================
``base``                            ``--model t2`` with ``strategy=none``, or ``--model hf``,
                                    of the embedded default model
``model:<slug>``                    the same of any other model (never counted as the base)
``svf:<objective>:<targets>``       ``--model t2`` with ``strategy=<expert>`` (own model)
``svf-transfer[-shuffled]``         the same with an expert trained on another base model
``prompt`` / ``cls`` / ``uniform``  ``--model t2`` with that strategy, default pass-1 settings
                                    and the shipped experts; otherwise the key says what differs,
                                    e.g. ``prompt[dispatch=generate,adapt=task]@experts=1a2b3c4d``
``fewshot:<k>``                     ``--model t2`` with ``strategy=fewshot`` and k shots
                                    (``fewshot:<k>[mix_base,population=4]``: the base weights
                                    among the mixed, CEM settings given as model arguments)
``<peft method>:<objective>:<m>``   ``--model hf --model_args peft=DIR`` (DIR from t2eval)
``model:<slug>/<key>``              any ``--model t2`` key above on another base model
``<key>@validation``                any key above, scored on the validation split
                                    (``t2eval compare --split validation``): never a cell
=================================  ==========================================================
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..jsonl import plain_name, read_json, read_jsonl, resolve
from ..adapt import STRATEGIES, default_experts_dir
from ..models import DEFAULT_MODEL, model_slug
from ..stats import macro_paired_bootstrap, paired_bootstrap
from ..svf import load_expert

SKIP_KEYS = ("alias", "name", "sample_len", "sample_count")

log = logging.getLogger(__name__)


@dataclass
class Score:
    task: str
    metric: str
    value: float
    n: int                      # documents behind the number
    method: str                 # see the module docstring
    source: Path
    date: float = 0.0
    info: dict = field(default_factory=dict)  # model name, strategy, provenance bits
    per_doc: dict | None = None  # doc_id -> the metric on that document (from samples_*.jsonl[.gz])
    hashes: dict | None = None   # doc_id -> lm-eval's doc_hash of that document (same files)
    version: str | None = None   # the task's version as the results file records it
    parts: dict | None = None    # a suite's macro score: task -> that task's Score (see suite_scores)


@dataclass
class TrainingRun:
    folder: Path
    config: dict
    summary: dict
    evals: list[dict]


def _model_args(config: dict) -> dict:
    args = config.get("model_args") or {}
    if isinstance(args, str):  # older lm-eval: "k=v,k=v"
        args = dict(item.split("=", 1) for item in args.split(",") if "=" in item)
    return args


def peft_method(folder: str | Path, copy: Path | None = None) -> str:
    """``<method>:<objective>:<modules>`` of a PEFT adapter folder (t2eval.json + PEFT config);
    when the folder is gone, of the copies committed beside the results (``copy``: that folder's
    ``adapter_config.json`` and ``adapter_t2eval.json``)."""
    folder = Path(folder)
    found = [(folder / "adapter_config.json", folder / "t2eval.json")]
    if copy is not None:
        found.append((copy / "adapter_config.json", copy / "adapter_t2eval.json"))
    found = [pair for pair in found if pair[0].is_file()]
    try:
        config = json.loads(found[0][0].read_text())
    except (IndexError, OSError, ValueError):
        return f"peft:?:{folder.name}"
    meta = {}
    if found[0][1].is_file():
        meta = json.loads(found[0][1].read_text())
    kind = "dora" if config.get("use_dora") else str(config.get("peft_type", "peft")).lower()
    modules = ",".join(sorted(config.get("target_modules") or []))
    return f"{kind}:{meta.get('objective', 'sft')}:{modules}"


#: few-shot search settings a run may change from its preset: named in the method key when given
CEM_ARGS = ("cem_preset", "population", "generations", "elite_ratio", "init_std", "alpha")

#: pass-1 settings of the default ``--model t2`` and what a results file without the key
#: had (runs made before the setting existed generated the label in the paper's one-turn layout)
PASS1_DEFAULTS = {"dispatch": ("score", "generate"), "adapt": ("sample", "sample"),
                  "pass1_layout": ("system", "user"), "pass1_options": (True, False)}


def _base_or_model(name: str | None) -> str:
    slug = model_slug(str(name or DEFAULT_MODEL))
    return "base" if slug == model_slug(DEFAULT_MODEL) else f"model:{slug}"


def experts_digest(fingerprints) -> str:
    import hashlib

    return hashlib.sha256(",".join(sorted(fingerprints)).encode()).hexdigest()[:8]


def _pass1_variant(t2: dict, shipped: str | None, pass1: bool = True) -> str:
    """``[k=v,...]`` for pass-1 settings that differ from the default (``pass1``: the strategy
    has a pass 1), ``@experts=<digest>`` when the experts are not the shipped ones (``shipped``:
    their digest)."""
    changed = []
    for key, (default, old) in PASS1_DEFAULTS.items() if pass1 else ():
        value = t2.get(key, old)
        if value != default:
            changed.append(f"{key.removeprefix('pass1_')}={str(value).lower() if isinstance(value, bool) else value}")
    text = f"[{','.join(changed)}]" if changed else ""
    used = experts_digest(e.get("fingerprint", "?") for e in (t2.get("experts") or {}).values())
    if shipped is not None and used != shipped:
        text += f"@experts={used}"
    return text


def method_of(config: dict, shipped: str | None = None, beside: Path | None = None) -> str:
    """The method key of one lm-eval results file's ``config`` block (``shipped``: the digest
    of the shipped experts' fingerprints, :func:`experts_digest`; ``beside``: the results file's
    folder, where a PEFT adapter's config may be committed)."""
    args = _model_args(config)
    if config.get("model") != "t2":
        return peft_method(args["peft"], beside) if args.get("peft") else _base_or_model(args.get("pretrained"))
    t2 = config.get("t2") or {}
    key = _t2_method(t2, args, shipped)
    owner = _base_or_model(t2.get("base_model") or args.get("pretrained"))
    # another model's adapted runs are never cells of the embedded model's rows
    return key if owner == "base" or key == owner else f"{owner}/{key}"


def _t2_method(t2: dict, args: dict, shipped: str | None) -> str:
    """The method key of a ``--model t2`` results file, whatever its base model."""
    strategy = t2.get("strategy", args.get("strategy", "none"))
    kind = STRATEGIES.get(strategy) if strategy in STRATEGIES else None  # None: a fixed expert
    if kind is not None and not kind.uses_experts:
        return _base_or_model(t2.get("base_model") or args.get("pretrained"))
    if kind is not None and kind.fits_per_task:
        shots = {m.get("shots") for m in (t2.get("fewshot") or {}).values()} or {args.get("shots")}
        library = _pass1_variant(t2, shipped, pass1=False)  # "@experts=<digest>" off the shipped library
        with_base = any("base" in (m.get("experts") or []) for m in (t2.get("fewshot") or {}).values())
        variant = ["mix_base"] * with_base + [f"{k}={args[k]}" for k in CEM_ARGS if k in args]
        return ((f"{strategy}:{max(s for s in shots if s is not None)}" if shots - {None} else f"{strategy}:?")
                + (f"[{','.join(variant)}]" if variant else "") + library)
    if kind is not None:
        return strategy + _pass1_variant(t2, shipped, pass1=kind.uses_pass1)
    expert = (t2.get("experts") or {}).get(strategy.removeprefix("expert:"), {})
    if expert.get("kind") == "shuffled":
        return "svf-transfer-shuffled"
    if expert.get("base_model") and model_slug(expert["base_model"]) != model_slug(str(t2.get("base_model") or DEFAULT_MODEL)):
        return "svf-transfer"  # a model named by a path and by its alias is the same model
    return f"svf:{expert.get('objective') or 'rl'}:{expert.get('targets', '?')}"


def primary_metric(result: dict, higher: dict | None) -> str | None:
    """The task's first metric (its YAML order, as lm-eval keeps it in higher_is_better)."""
    keys = [k for k in result if "," in k and "_stderr" not in k and k.split(",")[0] not in SKIP_KEYS]
    order = list(higher or {})
    for name in order:
        for key in keys:
            if key.split(",")[0] == name:
                return key
    return keys[0] if keys else None


def shipped_digest() -> str | None:
    """:func:`experts_digest` of the experts shipped for the embedded model (None: none)."""
    folder = default_experts_dir(model_slug(DEFAULT_MODEL))
    files = sorted(folder.glob("*.safetensors")) if folder else []
    return experts_digest(load_expert(f).fingerprint for f in files) if files else None


def read_results(path: Path, shipped: str | None = None) -> list[Score]:
    """One :class:`Score` per task of an lm-eval ``results_*.json`` (or the same gzipped, as large
    ones are committed under reports/; groups skipped)."""
    data = read_json(path)
    config = data.get("config") or {}
    method = method_of(config, shipped, path.parent)
    if config.get("split", "test") != "test":  # t2eval compare --split validation
        method += f"@{config['split']}"
    info = {"model": config.get("model"), "model_args": _model_args(config), "t2": config.get("t2") or {},
            "limit": config.get("limit"), "split": config.get("split", "test")}
    scores = []
    for task, result in (data.get("results") or {}).items():
        if task in (data.get("groups") or {}) or task in (data.get("group_subtasks") or {}):
            continue
        metric = primary_metric(result, (data.get("higher_is_better") or {}).get(task))
        if metric is None or not isinstance(result.get(metric), (int, float)):
            continue
        n = (data.get("n-samples") or {}).get(task, {}).get("effective") or result.get("sample_len") or 0
        name = metric.split(",")[0]
        version = (data.get("versions") or {}).get(task)
        per_doc, hashes = read_samples(path, task, name)
        scores.append(Score(task, name, float(result[metric]), int(n), method, path,
                            float(data.get("date") or 0.0), info, per_doc, hashes,
                            None if version is None else str(version)))
    return scores


def results_files(folder: Path) -> list[Path]:
    """The lm-eval results files directly in ``folder`` (``results_*.json``, plain or gzipped)."""
    return sorted([*folder.glob("results_*.json"), *folder.glob("results_*.json.gz")])


def folder_scores(folder: Path) -> list[Score]:
    """Every :class:`Score` of the results files directly in ``folder`` (one run folder)."""
    return [score for path in results_files(folder) for score in read_results(path)]


def same_documents(base: Score, other: Score) -> bool:
    """Whether the documents both runs scored under the same ``doc_id`` are the same documents
    (lm-eval's ``doc_hash``; runs without hashes are trusted by position)."""
    if not base.hashes or not other.hashes:
        return True
    return all(base.hashes[d] == other.hashes[d] for d in set(base.hashes) & set(other.hashes))


def per_doc_pair(base: Score | None, other: Score | None) -> tuple[list[float], list[float]] | None:
    """The two runs' per-document scores over the documents both scored (None: either lacks
    them, or the runs scored different documents under the same ids: see :func:`same_documents`)."""
    if base is None or other is None or not base.per_doc or not other.per_doc:
        return None
    if not same_documents(base, other):
        log.warning("%s and %s scored different documents under the same doc_id (doc_hash differs): "
                    "not paired", base.source, other.source)
        return None
    docs = sorted(set(base.per_doc) & set(other.per_doc))
    return ([base.per_doc[d] for d in docs], [other.per_doc[d] for d in docs]) if docs else None


def paired(base: Score | None, other: Score | None):
    """``other - base`` over the documents both scored, with its paired bootstrap 95% CI
    (:class:`~t2eval.stats.PairedDiff`); None when either lacks per-document scores. For two
    suite scores: the macro difference, documents resampled within tasks."""
    if base is not None and other is not None and base.parts and other.parts:
        pairs = {task: per_doc_pair(base.parts[task], other.parts.get(task)) for task in base.parts}
        return None if any(p is None for p in pairs.values()) else macro_paired_bootstrap(pairs)
    pair = per_doc_pair(base, other)
    return paired_bootstrap(*pair) if pair else None


def suite_scores(scores: list[Score], suite: str, members: list[str]) -> list[Score]:
    """One macro score (mean over tasks of each task's score) per results file that holds every
    task of ``suite`` (``members``) in one metric; ``n`` counts every document, ``parts`` keeps the
    task scores (for :func:`paired`). A file missing any task makes no suite score."""
    by_file: dict[Path, dict[str, Score]] = {}
    for score in scores:
        if score.task in members:
            by_file.setdefault(score.source, {})[score.task] = score
    out = []
    for source, parts in by_file.items():
        if set(parts) != set(members) or len({s.metric for s in parts.values()}) != 1:
            continue
        first = parts[members[0]]
        versions = {s.version for s in parts.values()}
        out.append(Score(suite, first.metric, sum(s.value for s in parts.values()) / len(parts),
                         sum(s.n for s in parts.values()), first.method, source, first.date, first.info,
                         version=versions.pop() if len(versions) == 1 else None,
                         parts={task: parts[task] for task in members}))
    return out


def read_per_doc(results: Path, task: str, metric: str) -> dict | None:
    """{doc_id: metric} from the ``samples_<task>_<date>.jsonl`` lm-eval wrote beside
    ``results_<date>.json`` (``--log_samples``; or the same gzipped, ``.jsonl.gz``, as committed
    under reports/); None when there is none."""
    return read_samples(results, task, metric)[0]


def read_samples(results: Path, task: str, metric: str) -> tuple[dict | None, dict | None]:
    """({doc_id: metric}, {doc_id: lm-eval's doc_hash}) from one read of the samples file
    :func:`read_per_doc` describes; either is None when missing (a benchmark's per-document
    scores, :func:`_bench_per_doc`, have no hashes)."""
    stamp = plain_name(results).removeprefix("results_").removesuffix(".json")
    path = resolve(results.with_name(f"samples_{task}_{stamp}.jsonl"))
    if path is None:
        return _bench_per_doc(results, task, metric), None
    scores, hashes = {}, {}
    for row in read_jsonl(path):
        if isinstance(row.get(metric), (int, float)):
            scores[int(row["doc_id"])] = float(row[metric])
        if row.get("doc_hash"):
            hashes[int(row["doc_id"])] = row["doc_hash"]
    return scores or None, hashes or None


def _bench_per_doc(results: Path, task: str, metric: str) -> dict | None:
    """Per-document scores of a benchmark's ``<name>/<engine>/results_bench.json``, kept in the
    benchmark's ``<name>.json`` or ``<name>.json.gz`` (``tasks_detail[task][metric][engine]``, in
    document order)."""
    bench = resolve(results.parent.parent.with_suffix(".json"))
    if plain_name(results) != "results_bench.json" or bench is None:
        return None
    try:
        values = read_json(bench)["tasks_detail"][task][metric][results.parent.name]
    except (KeyError, TypeError, ValueError):
        return None
    return {i: float(v) for i, v in enumerate(values)} if isinstance(values, list) and values else None


def read_training_run(folder: Path) -> TrainingRun | None:
    """A ``t2eval train`` run folder (config.json, summary.json, metrics.jsonl)."""
    try:
        config = json.loads((folder / "config.json").read_text())
        summary = json.loads((folder / "summary.json").read_text())
        rows = read_jsonl(folder / "metrics.jsonl")
    except (OSError, ValueError):
        return None
    return TrainingRun(folder, config, summary, [r for r in rows if r.get("type") == "eval"])


def read_expert_log(metrics: Path) -> TrainingRun | None:
    """A shipped expert's training log: ``<name>.metrics.jsonl`` beside ``<name>.config.json``.

    The summary is rebuilt from the log itself (steps logged, step-0 and best validation)."""
    name = metrics.name.removesuffix(".metrics.jsonl")
    try:
        config = json.loads((metrics.parent / f"{name}.config.json").read_text())
        rows = read_jsonl(metrics)
    except (OSError, ValueError):
        return None
    evals = [r for r in rows if r.get("type") == "eval"]
    last = evals[-1] if evals else {}
    summary = {"steps_done": max((r["step"] for r in rows if r.get("type") == "step"), default=0),
               "val_docs": config.get("val_size"), "best_val": last.get("best_val"),
               "best_step": last.get("best_step"),
               "base_val": evals[0]["val_acc"] if evals and evals[0]["step"] == 0 else None}
    return TrainingRun(metrics, config, summary, evals)


def read_adapter_run(meta_path: Path) -> TrainingRun | None:
    """The training summary a PEFT adapter folder keeps in its ``t2eval.json`` (no curve)."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if "steps_done" not in meta:
        return None
    modules = peft_method(meta_path.parent).rsplit(":", 1)[-1]
    return TrainingRun(meta_path.parent, {**meta, "targets": modules}, meta, [])


def collect(paths: list[str | Path]) -> tuple[list[Score], list[TrainingRun], list[Path]]:
    """Scores, training runs and dispatch sample files found under ``paths`` (files or folders)."""
    scores, runs, samples = [], [], []
    shipped = shipped_digest()
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"--results {root}: no such file or folder")
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            try:
                if plain_name(path).startswith("results_") and plain_name(path).endswith(".json"):
                    scores.extend(read_results(path, shipped))
                elif path.name.startswith("samples_dispatch_t2_") and plain_name(path).endswith(".jsonl"):
                    samples.append(path)
                elif path.name in ("summary.json", "t2eval.json") or path.name.endswith(".metrics.jsonl"):
                    runs.append(_read_run(path))
            except (ValueError, KeyError, TypeError, AttributeError) as err:  # json errors are ValueErrors
                log.warning("t2eval report: skipping %s, which cannot be read (%s: %s)", path, type(err).__name__, err)
    if not scores and not runs and not samples:
        raise ValueError(f"no lm-eval results (results_*.json), training runs or dispatch samples under "
                         f"{', '.join(map(str, paths))}: nothing to report")
    return scores, [run for run in runs if run], samples


def _read_run(path: Path) -> TrainingRun | None:
    if path.name == "summary.json":
        return read_training_run(path.parent)
    if path.name == "t2eval.json":
        return read_adapter_run(path)
    return read_expert_log(path)
