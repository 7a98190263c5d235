"""t2eval.benchmarks: every task YAML of task_configs/ has a registered benchmark whose
functions, dataset and splits are the ones the YAML names; each benchmark scores a tiny
hand-made example as expected (evaluation metric, training reward and SFT reference); the
package does not import lm-eval."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from t2eval.benchmarks import BENCHMARKS, label_of_task, task_dir, task_yaml
from t2eval.dispatch import LABELS
from test_tasks_code import MBPP_DOC  # one hand-made MBPP problem for both test files


def _task_yamls() -> dict[str, dict]:
    """{task name: merged YAML} of every task (not group, not ``_`` base) YAML."""
    configs = (task_yaml(p.stem) for p in sorted(task_dir().glob("*.yaml")) if not p.stem.startswith("_"))
    return {c["task"]: c for c in configs if isinstance(c.get("task"), str)}


TASKS = _task_yamls()


def _function(ref):
    assert isinstance(ref, tuple) and ref[0] == "!function", ref
    module, attr = ref[1].rsplit(".", 1)
    return getattr(importlib.import_module(f"t2eval.task_configs.{module}"), attr)


def test_every_task_yaml_has_a_benchmark_and_every_benchmark_a_yaml():
    assert {"gsm8k_t2", "arith_t2", "arc_easy_t2", "math", "mbpp_t2", "humaneval_t2", "dispatch_t2"} <= set(TASKS)
    assert set(TASKS) == set(BENCHMARKS.names())


@pytest.mark.parametrize("task", sorted(TASKS))
def test_the_yaml_calls_its_benchmark(task):
    config, bench = TASKS[task], BENCHMARKS.get(task)
    assert bench.name == task
    assert _function(config["custom_dataset"]) is bench.load
    assert _function(config["doc_to_text"]) is bench.prompt
    assert _function(config["doc_to_target"]) is bench.target
    if bench.choices is None:  # generative: the benchmark's own scorer
        assert _function(config["process_results"]) is bench.results
    else:  # multiple choice: lm-eval's log-likelihood metrics
        assert _function(config["doc_to_choice"]) is bench.choices and "process_results" not in config
    assert (config.get("dataset_kwargs") or {}).get("dataset") == bench.dataset
    assert config.get("training_split") == bench.train_split
    assert config.get("validation_split") == bench.validation_split
    assert config["test_split"] == bench.test_split
    assert bool(config.get("gen_prefix")) == (bench.prefix is not None)
    assert bench.label in LABELS or (bench.label == "cls" and task == "dispatch_t2")


# ----------------------------------------------------------------------------- known scores

HUMANEVAL_DOC = {"task_id": "Toy/0", "prompt": "def add(a, b):\n    \"\"\"The sum.\"\"\"\n",
                 "canonical_solution": "    return a + b\n", "entry_point": "add",
                 "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"}
MATH_DOC = {"problem": "Compute $1/2$.", "level": "Level 1", "type": "Prealgebra",
            "solution": r"First \boxed{1}? No: it is $\boxed{\frac{1}{2}}$."}
ARC_DOC = {"question": "Which?", "choices": {"text": ["x", "y"], "label": ["1", "2"]}, "answerKey": "2"}

# module of the benchmark's scorer -> (document, right response, wrong response, metric)
EXAMPLES = {
    "gsm8k": ({"question": "q", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"}, "so\nThe answer is 7.",
              "The answer is 8.", "exact_match"),
    "arc": (ARC_DOC, "B", "A woodpecker", "exact_match"),
    "math": (MATH_DOC, r"So it is $\boxed{\frac{1}{2}}$.", "The answer is 1/2.", "exact_match"),
    "mbpp": (MBPP_DOC, " return tuple(set(a) & set(b))\n\nprint(similar_elements((1,), (1,)))\n```",
             "return ()\n```", "pass_at_1"),
    "humaneval": (HUMANEVAL_DOC, "return a + b\n```", "return a - b\n```", "pass_at_1"),
    "dispatch": ({"question": "q", "label": "code"}, "Classification: \\boxed{code}",
                 "Classification: \\boxed{math}", "acc"),
}


def _example(bench):
    family = bench.score.__module__.rsplit(".", 1)[-1]
    assert family in EXAMPLES, f"add a hand-made example for {bench.name} ({family}) to EXAMPLES"
    return EXAMPLES[family]


@pytest.mark.parametrize("task", sorted(n for n in BENCHMARKS.names() if BENCHMARKS.get(n).choices is None))
def test_known_scores(task):
    """Generative benchmarks score by their own functions (multiple choice: lm-eval's acc)."""
    bench = BENCHMARKS.get(task)
    doc, right, wrong, metric = _example(bench)
    assert bench.rewards([right, wrong], [doc, doc]) == [1.0, 0.0]
    if bench.results.__name__.endswith("pass_at_k_results"):
        return  # sampled variants: same reward, pass@k covered in test_tasks_code.py
    assert bench.results(doc, [right])[metric] == 1.0
    assert bench.results(doc, [wrong])[metric] == 0.0
    if bench.reference is not None:  # the SFT target is a right answer
        assert bench.rewards([bench.reference(doc)], [doc]) == [1.0]


def test_references_and_targets():
    gsm8k, arc, dispatch = (BENCHMARKS.get(n) for n in ("gsm8k_t2", "arc_easy_t2", "dispatch_t2"))
    assert gsm8k.reference(EXAMPLES["gsm8k"][0]) == "3 + 4 = 7\nThe answer is 7."
    assert gsm8k.target(EXAMPLES["gsm8k"][0]) == "7"
    assert arc.target(ARC_DOC) == arc.reference(ARC_DOC) == "B"
    assert BENCHMARKS.get("math").target(MATH_DOC) == r"\frac{1}{2}"
    assert BENCHMARKS.get("mbpp_t2").prefix(MBPP_DOC) == "```python\ndef similar_elements(a, b):\n    "
    assert BENCHMARKS.get("humaneval_t2").prefix(HUMANEVAL_DOC) == "```python\n" + HUMANEVAL_DOC["prompt"] + "    "
    assert dispatch.results({"label": "code"}, ["\\boxed{code}"]) == {"acc": 1.0, "acc_code": 1.0}


def test_labels_and_dispatch_sources():
    from t2eval.benchmarks.dispatch import DISPATCH_LABELS

    assert DISPATCH_LABELS == {"gsm8k": "math", "mbpp": "code", "arc_easy": "reasoning"}  # pool order matters
    assert [label_of_task(n) for n in ("arc_easy", "gsm8k_cot", "mathqa", "piqa", "arith_t2", "mbpp_t2")] == [
        "reasoning", "math", "math", "reasoning", "math", "code"]
    from t2eval.data import arith

    assert BENCHMARKS.get("arith_t2").dataset == arith.NAME


def test_benchmarks_do_not_import_lm_eval():
    code = ("import sys\nimport t2eval.benchmarks, t2eval.task_configs.utils, t2eval.scoring\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lm_eval', 'torch', 'datasets')))\n")
    env = {**os.environ, "T2EVAL_NO_LM_EVAL_PLUGIN": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]"
