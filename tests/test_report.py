"""`t2eval report`: attribution of results files to methods, table cells, sources, figures;
and the cross-model transfer path (Table 5) on two tiny random models of equal shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import make_tiny_llama
from t2eval.report import build_report, collect
from t2eval.report.runs import experts_digest, method_of

REPO = Path(__file__).resolve().parents[1]


def write_results(folder: Path, stamp: str, model: str, model_args: dict, scores: dict, t2: dict | None = None,
                  samples: dict | None = None, hashes: dict | None = None, versions: dict | None = None):
    """A results file with the fields lm-eval 0.4.13 writes that the report reads (and, for the
    tasks of ``samples`` {task: [per-document metric]}, its samples file, with ``hashes``
    {task: [doc_hash]} when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    metric = {"gsm8k_t2": "exact_match", "arc_easy_t2": "exact_match", "math": "exact_match",
              "humaneval_t2": "pass_at_1", "mbpp_t2": "pass_at_1", "arc_challenge_t2": "exact_match",
              "arith_t2": "exact_match"}
    metric = {t: metric.get(t, "acc") for t in scores}  # bbh_ll_*, arc_challenge: acc
    data = {"results": {t: {"alias": t, f"{metric[t]},none": v, f"{metric[t]}_stderr,none": 0.01}
                        for t, (v, n) in scores.items()},
            "higher_is_better": {t: {metric[t]: True} for t in scores},
            "n-samples": {t: {"original": 1000, "effective": n} for t, (v, n) in scores.items()},
            "config": {"model": model, "model_args": model_args, **({"t2": t2} if t2 else {})},
            "date": float(stamp), **({"versions": versions} if versions else {})}
    path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(data))
    for task, values in (samples or {}).items():
        doc_hash = (hashes or {}).get(task) or [None] * len(values)
        (folder / f"samples_{task}_{stamp}.jsonl").write_text(
            "".join(json.dumps({"doc_id": i, "doc_hash": h, metric[task]: v}) + "\n"
                    for i, (v, h) in enumerate(zip(values, doc_hash))))
    return path


@pytest.fixture(autouse=True)
def _no_shipped_experts(monkeypatch):
    """Synthetic results files name no real experts: compare no experts digest."""
    monkeypatch.setattr("t2eval.report.runs.shipped_digest", lambda: None)


PASS1 = {"dispatch": "score", "adapt": "sample", "pass1_layout": "system", "pass1_options": True}


def t2_block(strategy, experts=None, **extra):
    return {"base_model": "smollm2-135m-instruct", "strategy": strategy, "experts": experts or {}, **PASS1, **extra}


MATH_EXPERT = {"math": {"label": "math", "targets": "mlp", "objective": "rl", "base_model": "smollm2-135m-instruct"}}


def test_methods_are_read_from_the_results_files_themselves(tmp_path):
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "target_modules": ["v_proj", "q_proj"], "use_dora": False}))
    (adapter / "t2eval.json").write_text(json.dumps({"objective": "rl"}))
    assert method_of({"model": "hf", "model_args": {"pretrained": "x"}}) == "model:x"  # another model: not base
    assert method_of({"model": "hf", "model_args": {"pretrained": "/cache/models/smollm2-135m-instruct"}}) == "base"
    assert method_of({"model": "hf", "model_args": f"pretrained=x,peft={adapter}"}) == "lora:rl:q_proj,v_proj"
    assert method_of({"model": "t2", "t2": t2_block("none")}) == "base"
    assert method_of({"model": "t2", "t2": t2_block("math", MATH_EXPERT)}) == "svf:rl:mlp"
    assert method_of({"model": "t2", "t2": t2_block("cls")}) == "cls"
    # pass-1 settings and experts that differ from the defaults are part of the key
    assert method_of({"model": "t2", "t2": t2_block("prompt", dispatch="generate", adapt="task")}) \
        == "prompt[dispatch=generate,adapt=task]"
    old = {k: v for k, v in t2_block("prompt").items() if k not in PASS1}  # a file from before those settings
    assert method_of({"model": "t2", "t2": old}) == "prompt[dispatch=generate,layout=user,options=false]"
    mine = {"math": {**MATH_EXPERT["math"], "fingerprint": "f" * 64}}
    shipped = experts_digest(["a" * 64])
    assert method_of({"model": "t2", "t2": t2_block("prompt", mine)}, shipped) == f"prompt@experts={experts_digest(['f' * 64])}"
    assert method_of({"model": "t2", "t2": t2_block("prompt", mine)}, experts_digest(["f" * 64])) == "prompt"
    assert method_of({"model": "t2", "t2": t2_block("fewshot", fewshot={"math": {"shots": 5, "alpha": [1]}})}) \
        == "fewshot:5"
    mixed = t2_block("fewshot", fewshot={"math": {"shots": 10, "alpha": [0.7, 0.3], "experts": ["math", "base"]}})
    assert method_of({"model": "t2", "t2": mixed}) == "fewshot:10[mix_base]"
    assert method_of({"model": "t2", "t2": mixed, "model_args": {"population": "4", "generations": "2"}}) \
        == "fewshot:10[mix_base,population=4,generations=2]"
    foreign = {"math": {**MATH_EXPERT["math"], "base_model": "other-model"}}
    assert method_of({"model": "t2", "t2": t2_block("math", foreign)}) == "svf-transfer"
    shuffled = {"math": {**MATH_EXPERT["math"], "kind": "shuffled"}}
    assert method_of({"model": "t2", "t2": t2_block("math", shuffled)}) == "svf-transfer-shuffled"


def test_report_cells_normalise_count_and_cite_their_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    base_docs = [1.0] * 80 + [0.0] * 120
    base = write_results(runs / "a", "1", "t2", {"strategy": "none"}, {"gsm8k_t2": (0.40, 200), "math": (0.10, 100)},
                         t2_block("none"), samples={"gsm8k_t2": base_docs})
    write_results(runs / "a", "2", "hf", {"pretrained": "x"}, {"gsm8k_t2": (0.30, 5)})   # fewer docs: not chosen
    svf = write_results(runs / "b", "3", "t2", {"strategy": "math"}, {"gsm8k_t2": (0.50, 200)},
                        t2_block("math", MATH_EXPERT), samples={"gsm8k_t2": [1.0] * 100 + [0.0] * 100})
    write_results(runs / "c", "4", "t2", {"strategy": "prompt"}, {"math": (0.12, 100)},
                  t2_block("prompt", seconds={"pass1": 3.0, "pass2": 12.0}))
    write_results(runs / "d", "5", "t2", {"strategy": "fewshot"}, {"math": (0.2, 150)},
                  t2_block("fewshot", fewshot={"math": {"shots": 10, "alpha": [0.2, 0.5, 0.3],
                                                        "experts": ["code", "math", "reasoning"]}}))
    write_results(runs / "e", "6", "t2", {"strategy": "math"}, {"arc_easy_t2": (0.9, 10)},   # a smoke test
                  t2_block("math", MATH_EXPERT))
    text = build_report([runs], tmp_path / "out").read_text()
    table1 = text.split("### Table 1")[1].split("###")[0]
    # +10 points on 200 paired documents (the expert solves every document base solves, and 20 more)
    assert "| + SVF (RL, MLP) | 0.052M | 50.00 (1.25) n=200 Δ+10.0 [+6.0, +14.5] [2] | — | — |" in table1
    assert "| Base model |  | 40.00 (1.00) n=200 [1] | — | — |" in table1
    # the 10-document run is listed apart; another model's 5-document run is no row of this table
    assert "Slices (fewer than 100 documents: smoke tests, not table cells): arc_easy_t2 · svf:rl:mlp · n=10." in table1
    assert f"[1] `{base.relative_to(tmp_path)}`" in table1 and f"[2] `{svf.relative_to(tmp_path)}`" in table1
    table2 = text.split("### Table 2")[1].split("###")[0]
    assert "| + T² prompt | 12.00 (1.20) n=100 no CI [2] | — | — |" in table2   # no samples: no interval
    assert "| + T² few-shot (10 shots, the paper's) | 20.00 (2.00†) n=150 no CI [3] | — | — |" in table2  # base: 100 docs
    assert "| math (100) | prompt | score | HFLM loop | 3.0 | 12.0 | 25% |" in text    # Table 3
    table8 = text.split("### Table 8")[1].split("###")[0]
    assert "| + T² few-shot, 10 shots | 20.00 (2.00†) n=150 no CI [2] |" in table8
    assert "| + T² few-shot, 5 shots | — |" in table8
    assert "0.922M" in text                                                      # LoRA q,v r16 on SmolLM2


def test_a_difference_whose_interval_includes_zero_is_marked(tmp_path):
    runs = tmp_path / "runs"
    docs = [1.0, 0.0] * 60
    write_results(runs / "a", "1", "t2", {"strategy": "none"}, {"gsm8k_t2": (0.5, 120)}, t2_block("none"),
                  samples={"gsm8k_t2": docs})
    write_results(runs / "b", "2", "t2", {"strategy": "math"}, {"gsm8k_t2": (0.5, 120)},
                  t2_block("math", MATH_EXPERT), samples={"gsm8k_t2": docs[1:] + docs[:1]})
    text = build_report([runs], tmp_path / "out").read_text()
    assert "| + SVF (RL, MLP) | 0.052M | 50.00 (1.00) n=120 Δ+0.0 [" in text and "] ≈ [2] |" in text


def test_a_suite_is_one_macro_cell_from_a_run_of_all_its_tasks(tmp_path):
    from t2eval.benchmarks import suite_members

    tasks = suite_members("bbh_ll")
    assert len(tasks) == 23
    runs = tmp_path / "runs"
    base = {t: [1.0, 0.0] * 10 for t in tasks}  # 0.5 everywhere
    better = {t: [1.0, 1.0] * 10 if i < 12 else [1.0, 0.0] * 10 for i, t in enumerate(tasks)}  # +0.5 on 12 tasks
    write_results(runs / "none", "1", "t2", {"strategy": "none"}, {t: (0.5, 20) for t in tasks}, t2_block("none"),
                  samples=base)
    write_results(runs / "prompt", "2", "t2", {"strategy": "prompt"},
                  {t: (sum(v) / 20, 20) for t, v in better.items()}, t2_block("prompt"), samples=better)
    partial = dict(list(better.items())[:22])  # one task short: no suite cell
    write_results(runs / "cls", "3", "t2", {"strategy": "cls"}, {t: (sum(v) / 20, 20) for t, v in partial.items()},
                  t2_block("cls"), samples=partial)
    table2 = build_report([runs], tmp_path / "out").read_text().split("### Table 2")[1].split("### Table 3")[0]
    head, rule, base_row = table2.splitlines()[2:5]
    assert head.endswith("| arc_challenge | bbh_ll |")
    assert base_row.endswith("| 50.00 (1.00) n=460 [1] |")
    prompt_row = next(line for line in table2.splitlines() if line.startswith("| + T² prompt"))
    macro = 100 * (12 * 1.0 + 11 * 0.5) / 23  # 76.09: the mean of the task means
    assert f"| {macro:.2f} (1.52) n=460 Δ+{macro - 50:.1f} [" in prompt_row and "≈" not in prompt_row
    cls_row = next(line for line in table2.splitlines() if line.startswith("| + T² cls-expert"))
    assert cls_row.endswith("| — |")


def test_runs_on_other_documents_under_the_same_ids_are_not_paired(tmp_path):
    runs = tmp_path / "runs"
    docs = [1.0] * 40 + [0.0] * 80
    write_results(runs / "a", "1", "t2", {"strategy": "none"}, {"gsm8k_t2": (1 / 3, 120)}, t2_block("none"),
                  samples={"gsm8k_t2": docs}, hashes={"gsm8k_t2": [f"h{i}" for i in range(120)]})
    write_results(runs / "b", "2", "t2", {"strategy": "math"}, {"gsm8k_t2": (0.5, 120)}, t2_block("math", MATH_EXPERT),
                  samples={"gsm8k_t2": [1.0] * 60 + [0.0] * 60},
                  hashes={"gsm8k_t2": [f"h{i}" for i in range(119)] + ["another document"]})
    text = build_report([runs], tmp_path / "out").read_text()
    assert "| + SVF (RL, MLP) | 0.052M | 50.00 (1.50) n=120 no CI (other documents under the same ids) [2] |" in text


def test_runs_of_an_older_task_version_are_stale_not_cells(tmp_path):
    from t2eval.benchmarks import task_version

    runs = tmp_path / "runs"
    now, old = task_version("arith_t2"), "1.0"
    assert now != old
    write_results(runs / "a", "1", "t2", {"strategy": "none"}, {"arith_t2": (0.08, 500)}, t2_block("none"),
                  versions={"arith_t2": old})
    write_results(runs / "b", "2", "t2", {"strategy": "math"}, {"arith_t2": (0.87, 500)}, t2_block("math", MATH_EXPERT),
                  versions={"arith_t2": old})
    write_results(runs / "c", "3", "t2", {"strategy": "none"}, {"arith_t2": (0.10, 500)}, t2_block("none"),
                  versions={"arith_t2": now})
    table1 = build_report([runs], tmp_path / "out").read_text().split("### Table 1")[1].split("###")[0]
    assert "| Base model |  | — | 10.00 (1.00) n=500 [1] |" in table1
    assert "| + SVF (RL, MLP) | 0.052M | — | — |" in table1
    assert f"Stale (an older version of the task, other documents: not table cells): arith_t2 v1.0 (now v{now}) · base · n=500; " \
           f"arith_t2 v1.0 (now v{now}) · svf:rl:mlp · n=500." in table1


def test_report_on_the_committed_base_runs(tmp_path):
    scores, _, samples = collect([REPO / "reports" / "runs" / "base"])
    arc = [s for s in scores if s.task == "arc_easy_t2"]
    assert arc and arc[0].method == "base" and arc[0].n == 100 and arc[0].value == pytest.approx(0.34)
    assert samples, "the dispatch_t2 samples of the base run are committed"
    [dispatch] = [s for s in scores if s.task == "dispatch_t2"]
    text = build_report([REPO / "reports" / "runs" / "base"], tmp_path).read_text()
    # scored before the ARC answer parser's fix (task v1.0): listed as stale, not a cell
    assert "34.00 (1.00) n=100" not in text and "arc_easy_t2 v1.0 (now v2.0) · base · n=100" in text


def test_dispatch_confusion_counts_logged_decisions(tmp_path):
    from t2eval.report.figures import dispatch_counts

    scores, _, samples = collect([REPO / "reports" / "runs" / "base"])
    counts = dispatch_counts(samples, scores)
    [(title, matrix)] = counts.items()
    [dispatch] = [s for s in scores if s.task == "dispatch_t2"]
    assert title == "base (dispatch_t2)" and sum(matrix.values()) == dispatch.n
    correct = sum(n for (truth, label), n in matrix.items() if truth == label)
    assert correct / dispatch.n == pytest.approx(dispatch.value)   # the figure re-derives the score


def test_shipped_expert_logs_and_adapter_summaries_are_training_runs(tmp_path):
    experts = REPO / "experts" / "smollm2-135m-instruct"
    _, runs, _ = collect([experts, REPO / "reports" / "runs" / "adapters"])
    by_name = {(r.config.get("name"), r.config.get("method", "svf")): r for r in runs}
    cls = by_name[("cls", "svf")]
    assert cls.summary["base_val"] == cls.evals[0]["val_acc"] and cls.summary["best_val"] > cls.summary["base_val"]
    assert cls.summary["steps_done"] == cls.config["steps"] and cls.summary["val_docs"] == cls.config["val_size"]
    lora = by_name[("reasoning", "lora")]
    assert lora.config["targets"] == "q_proj,v_proj" and lora.evals == []     # modules from the PEFT config
    text = build_report([experts], tmp_path).read_text()
    assert "| cls | svf | choice | mlp |" in text and "| arc_easy | svf | choice | mlp |" in text


def test_missing_results_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        collect([tmp_path / "nope"])


def test_cross_model_transfer_ordered_vs_shuffled_on_tiny_models():
    """Table 5's code path: an expert of model A applied to model B (same shapes)."""
    from t2eval.svf import ExpertError, SVFAdapter, decompose, ones_expert, shuffled

    a, b = make_tiny_llama(seed=0), make_tiny_llama(seed=1)
    dec_a, dec_b = decompose(a, "mlp", progress=False), decompose(b, "mlp", progress=False)
    assert dec_a.base_fingerprint != dec_b.base_fingerprint
    gen = torch.Generator().manual_seed(0)
    ones = ones_expert(dec_a, "tiny-a", "mlp")
    expert = ones.with_z({n: torch.linspace(0.2, 2.0, v.numel()) + 0.01 * torch.randn(v.numel(), generator=gen)
                          for n, v in ones.z.items()}, name="math", label="math")
    ids = torch.tensor([[3, 5, 7, 11, 13]])
    with pytest.raises(ExpertError, match="allow_foreign"):
        SVFAdapter(b, dec_b).apply(expert)
    adapter = SVFAdapter(b, dec_b, allow_foreign=True)
    with torch.no_grad():
        base = b(ids).logits
        with adapter.applied(expert):
            ordered = b(ids).logits
        with adapter.applied(shuffled(expert, seed=1)):
            mixed = b(ids).logits
    assert not torch.allclose(base, ordered) and not torch.allclose(ordered, mixed)
    assert torch.equal(base, b(ids).logits)   # removed again, bit for bit


def test_a_broken_results_file_is_named_and_skipped(tmp_path, caplog):
    good = write_results(tmp_path / "runs" / "a", "1", "t2", {}, {"gsm8k_t2": (0.25, 100)}, t2_block("none"))
    broken = tmp_path / "runs" / "b" / "results_2.json"
    broken.parent.mkdir(parents=True)
    broken.write_text(good.read_text()[:50])  # truncated JSON
    with caplog.at_level("WARNING"):
        scores, _, _ = collect([tmp_path / "runs"])
    assert [s.value for s in scores] == [0.25]
    assert any(str(broken) in r.getMessage() and "skipping" in r.getMessage() for r in caplog.records)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="nothing to report"):
        collect([tmp_path / "empty"])


def test_another_models_adapted_runs_carry_its_name():
    expert = {"reasoning": {"label": "reasoning", "targets": "mlp", "objective": "choice", "base_model": "gemma3-270m"}}
    config = {"model": "t2", "model_args": {"pretrained": "gemma3-270m"},
              "t2": {**t2_block("reasoning", expert), "base_model": "gemma3-270m"}}
    assert method_of(config) == "model:gemma3-270m/svf:choice:mlp"
    config["t2"]["strategy"] = "none"
    assert method_of(config) == "model:gemma3-270m"
    ours = {"model": "t2", "model_args": {}, "t2": t2_block("reasoning", {"reasoning": {**expert["reasoning"],
                                                                              "base_model": "smollm2-135m-instruct"}})}
    assert method_of(ours) == "svf:choice:mlp"


def test_suite_table_from_compare_runs_shows_the_oracle_and_regret(tmp_path):
    from t2eval.report.runs import Score
    from t2eval.report.suite import suite_record, suite_table

    def score(task, config, values, labels=None):
        t2 = {"pass1_labels": {task: labels}, "per_task": {task: {"pass1_s": 2.0, "pass2_s": 3.0}}} if labels else {}
        return Score(task, "acc", sum(values) / len(values), len(values), config, tmp_path, info={"t2": t2},
                     per_doc=dict(enumerate(values)))

    runs = {"none": [score("a", "none", [1, 0, 0, 0]), score("b", "none", [1, 1, 0, 0])],
            "expert:reasoning": [score("a", "x", [1, 1, 0, 0]), score("b", "x", [1, 0, 0, 0])],
            "prompt": [score("a", "p", [1, 1, 1, 0], {"reasoning": 4}), score("b", "p", [1, 0, 0, 0], {"reasoning": 4})]}
    record = suite_record(runs)
    assert record["tasks_detail"]["a"]["oracle"] == ("reasoning", 0.5)
    assert record["tasks_detail"]["b"]["oracle"] == ("none", 0.5)
    rows = suite_table(record, {"a": {"chance": 0.25, "majority": 0.5}, "b": {"chance": 0.5, "majority": 0.5}}).splitlines()
    assert "oracle (hindsight) | regret" in rows[0]
    assert rows[2].startswith("| a | 4 | 25.0 | 50.0 | 25.0 | 75.0 | +50.0 (") and "| 50.0 (reasoning) | -25.0 | reasoning 4 | 2 | 3 |" in rows[2]
    assert "| 50.0 (none) | +25.0 |" in rows[3]
    assert rows[4].startswith("| **macro (2 tasks)** | 8 |") and "| *50.0* | +0.0 |" in rows[4]
    # base alone is no choice: no oracle, no regret (it would be the gain over base, negated)
    from t2eval.report.suite import compare_table
    alone = {"none": runs["none"], "prompt": runs["prompt"]}
    assert all(d["oracle"] is None for d in suite_record(alone)["tasks_detail"].values())
    assert "oracle" not in suite_table(suite_record(alone), {})
    table = compare_table(alone)
    assert "oracle (upper bound" not in table and "| prompt | 4 | 75.0 | +50.0 (" in table
    assert all(line.split(" | ")[4] == "" for line in table.splitlines() if line.startswith("| prompt | 4 |"))


def test_table3_times_both_pass1_strategies_and_marks_validation_runs(tmp_path):
    from t2eval.report.runs import Score
    from t2eval.report.tables import timing_table

    def score(method, name, split="test"):  # as read_results builds them: the key and info["split"]
        info = {"t2": {"seconds": {"pass1": 2.0, "pass2": 8.0}, "dispatch": "score", "share_context": True},
                "split": split}
        return Score("arc_easy", "acc", 0.5, 570, method, tmp_path / name, info=info)

    table = timing_table([score("prompt@validation", "a.json", "validation"), score("cls", "b.json"),
                          score("none", "c.json"),
                          score("cls[dispatch=calibrated]@experts=ab12@validation", "d.json", "validation"),
                          score("prompt@experts=ab12", "e.json")])
    assert "| arc_easy (570) — validation split | cls | score |" in table  # after settings and a library
    assert "| arc_easy (570) | prompt | score |" in table  # another library is not a split
    assert "| arc_easy (570) — validation split | prompt | score | shared contexts | 2.0 | 8.0 | 25% |" in table
    assert "| arc_easy (570) | cls | score |" in table and "c.json" not in table
