"""The paper's tables as markdown, built from :class:`~t2eval.report.runs.Score` records.

A cell is ``score (score ÷ base) n=N Δ±CI [k]``: the score ×100 as in the paper, the normalised
score against the base model on the same task (on the same number of documents when such a
base run exists; a † marks a base measured on a different count), the documents behind the
number, the difference to base with its paired bootstrap 95% interval (×100, over the documents
both runs scored; ``≈`` marks an interval that includes 0; "no CI" when a run has no per-document
samples), and ``[k]``, the source file listed under the table. A cell without a run is "—".
Runs on fewer than ``MIN_DOCS`` documents never fill a cell: they are listed under the table as
slices; so are runs of an older version of one of t2eval's tasks (``metadata.version`` of its
YAML: other documents, e.g. arith_t2 before its split by structure), as stale. When several
runs match a cell, the one on the most documents wins, then the newest ("best" rows, such as Table 2's LoRA, take the highest score instead, as the paper does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..benchmarks import suite_members, task_version
from ..adapt import STRATEGIES
from .runs import Score, paired, same_documents, suite_scores

MIN_DOCS = 100  # a run on fewer documents is a slice (a smoke test), never a table cell

SEEN = ("gsm8k_t2", "arith_t2", "mbpp_t2", "arc_easy_t2", "arc_easy")
UNSEEN = ("math", "math500", "humaneval_t2", "arc_challenge_t2", "arc_challenge")
#: Table 2's columns: the unseen tasks and the unseen suite (a cell: one run of all its tasks, macro)
UNSEEN_SUITES = (*UNSEEN, "bbh_ll")
SUITE_NOTE = ("`bbh_ll`: the macro accuracy (mean of task accuracies) over the 23 tasks of the log-likelihood "
              "BIG-Bench Hard suite, no expert trained on any of them; a cell is one run of all 23 tasks, its "
              "n every scored document, its interval the paired bootstrap with documents resampled within "
              "tasks. Per task, with chance, the majority-class rate, Holm-corrected intervals, routing and "
              "the oracle: reports/bbh.md.")
LORA_QV = "lora:sft:q_proj,v_proj"
LORA_CHOICE = "lora:choice:down_proj,gate_proj,up_proj"  # the reasoning expert's matched LoRA
#: the choice objective as it really is: no sampling, no KL
CHOICE = "choice objective: expected ±1 reward, exact over choices, λ = 0"
SEEDS = "reports/seeds/reasoning_choice/seeds.md"  # written by scripts/matched_baseline.py
SEEDS_NOTE = ("The choice-objective rows are seed 0 (SVF: the shipped `reasoning` expert). Three seeds of both, "
              f"with every seed's score, mean ± spread and Holm-corrected SVF − LoRA intervals: {SEEDS} and "
              "reports/training.md (the seed runs are in reports/seeds/, kept out of these cells).")
# the paper ablates on its math training task (GSM8K) and an unseen one (MATH); here the math
# training task with headroom is arith_t2, and gsm8k_t2 / math are the unseen checks
ABLATION_TASKS = ("arith_t2", "gsm8k_t2", "math")


@dataclass
class Row:
    label: str
    match: Callable[[str], bool]
    pick: str = "latest"                 # latest | best
    params: tuple | None = None          # ("svf", targets) | (peft method, modules)


@dataclass
class TableSpec:
    key: str
    title: str
    tasks: tuple
    rows: list[Row]
    note: str = ""
    library: bool = False  # its T² rows use the shipped expert library (its digest is printed)
    appendix: str | None = None  # a markdown file (relative to the working folder) shown under the table


def is_(key: str) -> Callable[[str], bool]:
    return lambda method: method == key


def starts(prefix: str) -> Callable[[str], bool]:
    return lambda method: method.startswith(prefix)


BASE = Row("Base model", is_("base"))

SPECS = [
    TableSpec("1", "Table 1 — SVF vs LoRA on the training tasks (seen)", SEEN, [
        BASE, Row("+ LoRA (next-token, q,v r16)", is_(LORA_QV), params=("lora", "q_proj,v_proj")),
        Row("+ SVF (RL, MLP)", is_("svf:rl:mlp"), params=("svf", "mlp")),
        Row(f"+ SVF ({CHOICE}, MLP)", is_("svf:choice:mlp"), params=("svf", "mlp")),
        Row(f"+ LoRA ({CHOICE}, MLP r16)", is_(LORA_CHOICE), params=("lora", "gate_proj,up_proj,down_proj")),
        Row("+ SVF (next-token, MLP)", is_("svf:sft:mlp"), params=("svf", "mlp"))], note=SEEDS_NOTE, appendix=SEEDS),
    TableSpec("2", "Table 2 — self-adaptation on unseen tasks", UNSEEN_SUITES, [
        BASE, Row("+ LoRA (best of the training-task adapters)", starts("lora:sft:"), pick="best"),
        Row(f"+ LoRA ({CHOICE}, MLP r16, trained on ARC-Easy)", is_(LORA_CHOICE)),
        Row("+ SVF `reasoning` expert alone (fixed, no pass 1)", is_("svf:choice:mlp")),
        Row("+ T² prompt", is_("prompt")), Row("+ T² cls-expert (the default where a cls expert ships)", is_("cls")),
        Row("+ T² few-shot (10 shots, the paper's)", is_("fewshot:10")),
        Row("+ T² few-shot (10 shots, base weights among the candidates: mix_base)", is_("fewshot:10[mix_base]")),
        Row("+ T² few-shot (mix_base, a smaller search: 4 candidates × 2 generations)",
            is_("fewshot:10[mix_base,population=4,generations=2]"))],
        note=SUITE_NOTE, library=True),
    TableSpec("4", "Table 4 — ablations (targets, objective, SVF vs LoRA under RL)", ABLATION_TASKS, [
        BASE,
        Row("SVF · policy gradient · MLP", is_("svf:rl:mlp"), params=("svf", "mlp")),
        Row("SVF · policy gradient · attention", is_("svf:rl:attn"), params=("svf", "attn")),
        Row("SVF · policy gradient · MLP + attention", is_("svf:rl:all"), params=("svf", "all")),
        Row("SVF · next-token · attention", is_("svf:sft:attn"), params=("svf", "attn")),
        Row("SVF · next-token · MLP", is_("svf:sft:mlp"), params=("svf", "mlp")),
        Row("SVF · next-token · MLP + attention", is_("svf:sft:all"), params=("svf", "all")),
        Row("LoRA · policy gradient · attention (q,v)", is_("lora:rl:q_proj,v_proj"), params=("lora", "q_proj,v_proj")),
        Row("LoRA · next-token · attention (q,v)", is_(LORA_QV), params=("lora", "q_proj,v_proj"))],
        note="Trained on arith_t2 with one budget (100 updates × 16 problems, the best of four "
             "validations kept: `scripts/train_ablations.sh`); the next-token MLP row is the shipped "
             "`math` expert (the same recipe, best at update 100 of 150). Policy-gradient rows: "
             "REINFORCE from the base model (4 samples per problem, leave-one-out advantages) saw "
             "0–9% correct samples and went from 0.13 to 0.10 validation in 10 updates; it was "
             "stopped, so those cells stay empty (reports/training.md)."),
    TableSpec("5", "Table 5 — cross-model transfer (experts of another base model)", UNSEEN, [
        BASE, Row("+ transferred SVF experts (ordered)", is_("svf-transfer")),
        Row("+ transferred SVF experts (shuffled)", is_("svf-transfer-shuffled"))],
        note="Needs a second model with the embedded model's shapes; none ships offline, so these rows "
             "stay empty here (the transfer code path is tested on two tiny random models of equal "
             "shapes: tests/test_report.py). Real users evaluate `strategy=<expert of model A>` on model B."),
    TableSpec("7", "Table 7 — more PEFT baselines (IA3, DoRA) on the training tasks", SEEN, [
        BASE, Row("+ IA3 (k,v,down)", starts("ia3:sft:"), params=("ia3", None)),
        Row("+ DoRA (q,v r16)", starts("dora:sft:"), params=("dora", "q_proj,v_proj")),
        Row("+ LoRA (q,v r16)", is_(LORA_QV), params=("lora", "q_proj,v_proj")),
        Row("+ SVF (RL, MLP)", is_("svf:rl:mlp"), params=("svf", "mlp")),
        Row(f"+ SVF ({CHOICE}, MLP)", is_("svf:choice:mlp"), params=("svf", "mlp")),
        Row(f"+ LoRA ({CHOICE}, MLP r16)", is_(LORA_CHOICE), params=("lora", "gate_proj,up_proj,down_proj")),
        Row("+ SVF (next-token, MLP)", is_("svf:sft:mlp"), params=("svf", "mlp"))], note=SEEDS_NOTE, appendix=SEEDS),
    TableSpec("8", "Table 8 — few-shot adaptation vs number of shots", UNSEEN, [
        BASE, *[Row(f"+ T² few-shot, {k} shots", is_(f"fewshot:{k}")) for k in (3, 5, 10, 20)]], library=True),
]


@dataclass
class Sources:
    """Numbered source files of one table."""

    paths: list = field(default_factory=list)

    def ref(self, path) -> int:
        if path not in self.paths:
            self.paths.append(path)
        return self.paths.index(path) + 1


@lru_cache(maxsize=None)
def _version_now(task: str) -> str | None:
    return task_version(task)


def current(score: Score) -> bool:
    """Whether a run scored the task's current version (stock tasks, unknown versions: yes; a
    suite: every one of its tasks)."""
    if score.parts:
        return all(current(part) for part in score.parts.values())
    now = _version_now(score.task)
    return now is None or score.version is None or score.version == now


def choose(scores: list[Score], task: str, match: Callable[[str], bool], pick: str = "latest") -> Score | None:
    found = [s for s in scores if s.task == task and match(s.method) and s.n >= MIN_DOCS and current(s)]
    if not found:
        return None
    key = (lambda s: (s.n, s.value, s.date)) if pick == "best" else (lambda s: (s.n, s.date))
    return max(found, key=key)


def base_for(scores: list[Score], cell: Score) -> Score | None:
    bases = [s for s in scores if s.task == cell.task and s.method == "base" and s.n >= MIN_DOCS and current(s)]
    same = [s for s in bases if s.n == cell.n]
    pool = same or bases
    return max(pool, key=lambda s: (s.n, s.date)) if pool else None


def format_cell(cell: Score | None, base: Score | None, sources: Sources) -> str:
    if cell is None:
        return "—"
    text = f"{100 * cell.value:.2f}"
    if base is not None and base.value > 0:
        mark = "" if base.n == cell.n else "†"
        text += f" ({cell.value / base.value:.2f}{mark})"
    elif base is not None:
        text += " (base 0)"
    return f"{text} n={cell.n}{_interval(cell, base)} [{sources.ref(cell.source)}]"


def _interval(cell: Score, base: Score | None) -> str:
    """`` Δ+x.x [lo, hi]`` against base over the documents both scored (``≈``: CI includes 0)."""
    if base is None or cell.method == "base":
        return ""
    diff = paired(base, cell)
    if diff is None or diff.n < MIN_DOCS:
        return " no CI" if same_documents(base, cell) else " no CI (other documents under the same ids)"
    mark = "" if diff.significant else " ≈"
    return f" Δ{100 * diff.diff:+.1f} [{100 * diff.low:+.1f}, {100 * diff.high:+.1f}]{mark}"


def render_table(spec: TableSpec, scores: list[Score], param_count: Callable[[tuple], int | None] | None,
                 relative_to=None, library: str | None = None) -> str:
    """One table as markdown (``library``: the digest of the shipped experts, printed under the
    tables whose T² rows use them: a run with any other library is no cell of those rows)."""
    sources = Sources()
    scores = scores + [macro for task in spec.tasks if suite_members(task)
                       for macro in suite_scores(scores, task, suite_members(task))]
    with_params = any(r.params for r in spec.rows) and param_count is not None
    head = ["method", *(["#params"] if with_params else []), *spec.tasks]
    lines = [f"### {spec.title}", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in spec.rows:
        cells = []
        for task in spec.tasks:
            cell = choose(scores, task, row.match, row.pick)
            cells.append(format_cell(cell, base_for(scores, cell) if cell else None, sources))
        params = [_params_text(param_count, row.params)] if with_params else []
        lines.append("| " + " | ".join([row.label, *params, *cells]) + " |")
    slices = sorted({(s.task, s.method, s.n, str(s.source)) for s in scores if s.n < MIN_DOCS and s.task in spec.tasks
                     and any(row.match(s.method) for row in spec.rows)})
    if slices:
        lines += ["", f"Slices (fewer than {MIN_DOCS} documents: smoke tests, not table cells): "
                  + "; ".join(f"{task} · {method} · n={n}" for task, method, n, _ in slices) + "."]
    stale = sorted({(s.task, s.version, s.method, s.n) for s in scores if s.task in spec.tasks and not current(s)
                    and any(row.match(s.method) for row in spec.rows)})
    if stale:
        lines += ["", "Stale (an older version of the task, other documents: not table cells): "
                  + "; ".join(f"{task} v{version} (now v{_version_now(task)}) · {method} · n={n}"
                              for task, version, method, n in stale) + "."]
    if spec.note:
        lines += ["", spec.note]
    if spec.appendix and Path(spec.appendix).is_file():
        lines += ["", f"From `{spec.appendix}`:", "", Path(spec.appendix).read_text().strip()]
    if spec.library and library:
        lines += ["", f"One expert library per table: the T² rows use the shipped experts, digest `{library}`; "
                      "runs with another library (keys ending `@experts=<digest>`) are not cells."]
    lines += ["", "Sources:" if sources.paths else "Sources: none (no matching runs yet)."]
    lines += [f"[{i}] `{_rel(p, relative_to)}`" + ("  " if i < len(sources.paths) else "")
              for i, p in enumerate(sources.paths, 1)]
    return "\n".join(lines) + "\n"


def _params_text(param_count, params) -> str:
    if not params:
        return ""
    count = param_count(params)
    return "—" if count is None else f"{count / 1e6:.3f}M"


def _rel(path, root) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) if root else str(path)
    except ValueError:
        return str(path)


def timing_table(scores: list[Score], relative_to=None) -> str:
    """Table 3: pass-1 vs pass-2 time of the strategies that run pass 1 (``prompt``, ``cls``: the
    registry's ``uses_pass1``), per results file; a run on another split than test says so."""
    lines = ["### Table 3 — inference time of the two-pass strategies (pass 1 vs pass 2)", "",
             "| tasks (documents) | strategy | pass 1 | pass 2 | pass 1 (s) | pass 2 (s) | pass 1 as % of pass 2 | "
             "source |", "|---|---|---|---|---:|---:|---:|---|"]
    by_file: dict = {}
    for s in scores:
        key = s.method.split("[")[0].split("@")[0]
        if key in STRATEGIES and STRATEGIES.get(key).uses_pass1:
            by_file.setdefault(s.source, (key, s.info.get("split", "test"), []))[2].append(s)
    for path, (strategy, split, group) in sorted(by_file.items(), key=lambda kv: str(kv[0])):
        seconds = group[0].info.get("t2", {}).get("seconds", {})
        p1, p2 = seconds.get("pass1"), seconds.get("pass2")
        if p1 is None or not p2:
            continue
        tasks = ", ".join(f"{s.task} ({s.n})" for s in group) + (f" — {split} split" if split != "test" else "")
        t2 = group[0].info.get("t2", {})
        mode = t2.get("dispatch", "generate")  # runs before dispatch=score generated
        pass2 = "shared contexts" if t2.get("share_context") else "HFLM loop"
        lines.append(f"| {tasks} | {strategy} | {mode} | {pass2} | {p1:.1f} | {p2:.1f} | {100 * p1 / p2:.0f}% | "
                     f"`{_rel(path, relative_to)}` |")
    if len(lines) == 4:
        lines.append("| — | — | — | — | — | — | — | no `strategy=prompt` or `strategy=cls` runs found |")
    return "\n".join(lines) + "\n"


def training_table(runs, relative_to=None) -> str:
    """Validation accuracy of each training run (its start at step 0 vs the kept expert)."""
    lines = ["### Training runs (validation: the held-out half of the training split, or the dataset's own "
             "validation split)", "",
             "Step-0 validation is the base model's, or the starting expert's for runs with `init_expert`.", "",
             "| task | method | objective | targets | KL | steps | validation docs | step-0 val | best val (step) | run |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for run in sorted(runs, key=lambda r: str(r.folder)):
        c, s = run.config, run.summary
        fmt = (lambda v: "—" if v is None else f"{v:.3f}")
        objective = f"{c.get('objective')} from an expert" if c.get("init_expert") else c.get("objective")
        lines.append(f"| {c.get('task')} | {c.get('method', 'svf')} | {objective} | {c.get('targets')} | "
                     f"{c.get('kl', 0):g} | {s.get('steps_done')} | {s.get('val_docs', '—')} | {fmt(s.get('base_val'))} | "
                     f"{fmt(s.get('best_val'))} ({s.get('best_step')}) | `{_rel(run.folder, relative_to)}` |")
    if len(lines) == 6:
        lines.append("| — | | | | | | | | | no training runs found |")
    return "\n".join(lines) + "\n"
