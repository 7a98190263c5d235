"""t2eval's new lm-eval tasks build through `TaskManager` and show the right documents,
prompts and targets; dispatch_t2's pool is fixed; the groups list the paper's tasks; no
task shadows a built-in name; and (slow) the code tasks run end to end through the stock
`lm_eval` CLI on the embedded model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, data_dir
from t2eval.benchmarks import dispatch, mbpp
from t2eval.benchmarks.math import math_gold

NEW_TASKS = ("math", "math500", "mbpp_t2", "humaneval_t2", "dispatch_t2",
             "mbpp_t2_pass_at_k", "humaneval_t2_pass_at_k")
GROUPS = {"t2_seen": ["gsm8k_t2", "mbpp_t2", "arc_easy_t2"],
          "t2_unseen": ["math", "humaneval_t2", "arc_challenge_t2"]}
DATA = data_dir()

needs_data = pytest.mark.skipif(not (DATA / "math" / "test.jsonl").is_file(),
                                reason=f"local benchmark copies not found at {DATA} (set T2EVAL_DATA_DIR)")


@pytest.fixture(scope="module")
def offline_env():
    """T2EVAL_DATA_DIR and HF offline switches for this module (tasks read local JSONL)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("T2EVAL_DATA_DIR", str(DATA))
        patch.setenv("HF_DATASETS_OFFLINE", "1")
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def manager(offline_env):
    """A TaskManager over t2eval's task folder only (indexing lm-eval's ~10k YAMLs is slow)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(REPO / "task_configs"), include_defaults=False)


@pytest.fixture(scope="module")
def tasks(manager) -> dict:
    """{name: ConfigurableTask} for every new task."""
    return manager.load(list(NEW_TASKS))["tasks"]


def _docs(task, n: int = 3) -> list[dict]:
    return list(task.test_docs())[:n]


# ----------------------------------------------------------------------------- builds and docs


@needs_data
def test_every_new_task_builds_with_its_document_count(tasks):
    counts = {name: len(tasks[name].test_docs()) for name in NEW_TASKS}
    assert counts == {"math": 5000, "math500": 500, "mbpp_t2": 500, "humaneval_t2": 164, "dispatch_t2": 300,
                      "mbpp_t2_pass_at_k": 500, "humaneval_t2_pass_at_k": 164}


@needs_data
def test_only_code_tasks_are_unsafe(tasks):
    unsafe = {name for name in NEW_TASKS if getattr(tasks[name], "UNSAFE_CODE", False)}
    assert unsafe == {"mbpp_t2", "humaneval_t2", "mbpp_t2_pass_at_k", "humaneval_t2_pass_at_k"}


@needs_data
def test_tasks_are_zero_shot_and_greedy(tasks):
    for name in ("math", "math500", "mbpp_t2", "humaneval_t2", "dispatch_t2"):
        kwargs = tasks[name].config.generation_kwargs
        assert kwargs["do_sample"] is False and tasks[name].config.num_fewshot == 0, name


@needs_data
def test_math_docs(tasks):
    task = tasks["math"]
    for doc in _docs(task):
        prompt = task.doc_to_text(doc)
        assert prompt.startswith(doc["problem"]) and "\\boxed{}" in prompt
        assert task.doc_to_target(doc) == math_gold(doc)
        assert f"\\boxed{{{task.doc_to_target(doc)}}}" in doc["solution"]
        result = task.process_results(doc, [f"So the answer is $\\boxed{{{task.doc_to_target(doc)}}}$."])
        assert result == {"exact_match": 1.0}


@needs_data
def test_math500_docs(tasks):
    task = tasks["math500"]
    for doc in _docs(task):
        assert task.doc_to_target(doc) == doc["answer"]
        assert task.doc_to_text(doc).startswith(doc["problem"])
        assert task.process_results(doc, ["\\boxed{I give up}"]) == {"exact_match": 0.0}


@needs_data
def test_mbpp_docs(tasks):
    task = tasks["mbpp_t2"]
    doc = _docs(task, 1)[0]
    assert doc["task_id"] == 11  # the hub's test split is task ids 11..510
    prompt = task.doc_to_text(doc)
    assert doc["text"] in prompt and doc["test_list"][0] in prompt and "```python" in prompt
    assert doc["test_list"][1] not in prompt  # only the first assert is shown
    assert task.doc_to_target(doc) == doc["code"]
    assert task.doc_to_prefix(doc) == mbpp.code_prefix(doc)  # the reference format's prefilled start
    assert doc["gen_prefix"].startswith("```python\ndef remove_Occ(")
    body = doc["code"].replace("\r\n", "\n").split("\n", 1)[1]   # the reference body as a completion
    assert task.process_results(doc, [body + "\n```\nIt removes both ends."]) == {"pass_at_1": 1.0}
    assert task.process_results(doc, ["return s\n```"]) == {"pass_at_1": 0.0}
    assert "```" in task.config.generation_kwargs["until"]


@needs_data
def test_humaneval_docs(tasks):
    task = tasks["humaneval_t2"]
    doc = _docs(task, 1)[0]
    assert doc["task_id"] == "HumanEval/0"
    assert doc["prompt"] in task.doc_to_text(doc)
    assert task.doc_to_prefix(doc) == "```python\n" + doc["prompt"] + "    "
    assert task.process_results(doc, [doc["canonical_solution"]]) == {"pass_at_1": 1.0}
    assert task.process_results(doc, ["pass\n```"]) == {"pass_at_1": 0.0}


@needs_data
def test_pass_at_k_variants_sample_ten_answers(tasks):
    for name in ("mbpp_t2_pass_at_k", "humaneval_t2_pass_at_k"):
        task = tasks[name]
        assert task.config.repeats == 10 and task.config.generation_kwargs["do_sample"] is True
        assert [m["metric"] for m in task.config.metric_list] == ["pass_at_1", "pass_at_5", "pass_at_10"]
    task = tasks["humaneval_t2_pass_at_k"]
    doc = _docs(task, 1)[0]
    answers = [doc["canonical_solution"]] * 2 + ["    return None\n"] * 8
    got = task.process_results(doc, [answers])
    assert got["pass_at_1"] == pytest.approx(0.2) and got["pass_at_10"] == 1.0


# ----------------------------------------------------------------------------- dispatch_t2


@needs_data
def test_dispatch_pool_is_fixed_balanced_and_from_test_splits(tasks, offline_env):
    from t2eval.data import load_split
    from t2eval.dispatch import question_of
    from t2eval.task_configs.utils import dispatch_pool

    docs = list(tasks["dispatch_t2"].test_docs())
    assert docs == dispatch_pool(100, 1234)  # deterministic
    by_source = {s: [d for d in docs if d["source"] == s] for s in dispatch.DISPATCH_LABELS}
    assert {s: len(v) for s, v in by_source.items()} == {"gsm8k": 100, "mbpp": 100, "arc_easy": 100}
    assert {s: {d["label"] for d in v} for s, v in by_source.items()} == {
        "gsm8k": {"math"}, "mbpp": {"code"}, "arc_easy": {"reasoning"}}
    assert {d["source"] for d in docs[:10]} == set(dispatch.DISPATCH_LABELS)  # shuffled: --limit sees all
    for source, field in (("gsm8k", "question"), ("mbpp", "text"), ("arc_easy", "question")):
        rows = load_split(source, "test")
        doc = by_source[source][0]
        assert doc["question"] == question_of(rows[doc["source_index"]], "")  # what pass 1 sees
        assert doc["question"].startswith(rows[doc["source_index"]][field])
        assert ("\nA. " in doc["question"]) == (source == "arc_easy")  # multiple choice: with its options


@needs_data
def test_dispatch_prompt_and_scoring(tasks):
    from t2eval.dispatch import classification_prompt

    task = tasks["dispatch_t2"]
    doc = _docs(task, 1)[0]
    assert task.doc_to_text(doc) == classification_prompt(doc["question"])
    right = f"Classification: \\boxed{{{doc['label']}}}"
    assert task.process_results(doc, [right]) == {"acc": 1.0, f"acc_{doc['label']}": 1.0}
    assert task.process_results(doc, ["Classification: \\boxed{others}"])["acc"] == 0.0
    assert task.process_results(doc, ["no idea"])["acc"] == 0.0


@needs_data
def test_dispatch_generation_matches_the_backends_pass_1(tasks):
    from t2eval.dispatch import PASS1_GEN

    kwargs = tasks["dispatch_t2"].config.generation_kwargs
    assert kwargs["max_gen_toks"] == PASS1_GEN["max_gen_toks"]
    assert set(PASS1_GEN["until"]) <= set(kwargs["until"])


# ----------------------------------------------------------------------------- groups and names


@needs_data
def test_groups_list_the_papers_tasks(manager):
    group_map = manager.load(list(GROUPS))["group_map"]
    assert {name: sorted(children) for name, children in group_map.items()} == {
        name: sorted(tasks) for name, tasks in GROUPS.items()}


@pytest.mark.slow
def test_no_new_name_shadows_a_builtin_task():
    code = ("import json\nfrom lm_eval.tasks import TaskManager\n"
            "print(json.dumps(sorted(TaskManager(include_defaults=True).all_tasks)))\n")
    env = {**os.environ, "T2EVAL_NO_LM_EVAL_PLUGIN": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    builtin = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "arc_easy" in builtin and "arc_easy_t2" not in builtin  # the plugin really was off
    ours = {p.stem for p in (REPO / "task_configs").glob("*.yaml") if not p.stem.startswith("_")}
    assert set(NEW_TASKS) | set(GROUPS) <= ours
    assert not ours & builtin


# ----------------------------------------------------------------------------- end to end (stock CLI)


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory) -> dict:
    """The results JSON of one `lm_eval --model hf ... --tasks mbpp_t2,humaneval_t2 --limit 2` run."""
    if not (DATA / "mbpp" / "test.jsonl").is_file():
        pytest.skip(f"local benchmark copies not found at {DATA} (set T2EVAL_DATA_DIR)")
    out = tmp_path_factory.mktemp("lm-eval-code")
    env = {**os.environ, "T2EVAL_DATA_DIR": str(DATA), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # 1 thread: far faster on a busy 2-core box
    args = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={_model_path()},dtype=float32",
            "--device", "cpu", "--tasks", "mbpp_t2,humaneval_t2", "--limit", "2", "--confirm_run_unsafe_code",
            "--apply_chat_template", "--gen_kwargs", "max_gen_toks=64", "--output_path", str(out)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, cwd=out)
    assert proc.returncode == 0, f"lm_eval failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    (results,) = Path(out).rglob("results_*.json")
    return json.loads(results.read_text())


def _model_path() -> str:
    """The embedded model's folder, as `t2eval model path` prints it."""
    out = subprocess.run([sys.executable, "-m", "t2eval.cli", "model", "path"], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["mbpp_t2", "humaneval_t2"])
def test_code_task_runs_through_the_stock_cli(cli_results, task):
    metrics = cli_results["results"][task]
    assert 0.0 <= metrics["pass_at_1,none"] <= 1.0
    assert cli_results["n-samples"][task]["effective"] == 2
