"""The `mbpp_t2` / `humaneval_t2` scorers: code extraction, program assembly, sandbox
judging (reference solutions pass, wrong ones fail, sandbox failures surface) and pass@k."""

from __future__ import annotations

import itertools
import math

import pytest

from conftest import data_dir
from t2eval import scoring
from t2eval.benchmarks import humaneval, mbpp
from t2eval.sandbox import Verdict

MBPP_DOC = {
    "task_id": 2, "text": "Write a function to find the shared elements from the given two lists.",
    "code": "def similar_elements(a, b):\r\n  return tuple(set(a) & set(b))",
    "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
                  "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))"],
    "test_setup_code": "", "challenge_test_list": [],
}


@pytest.fixture(scope="module")
def humaneval_docs() -> dict[str, dict]:
    from t2eval.data import load_humaneval

    return {doc["task_id"]: doc for doc in load_humaneval()}


@pytest.fixture(scope="module")
def mbpp_test_docs() -> list[dict]:
    folder = data_dir()
    if not (folder / "mbpp" / "test.jsonl").is_file():
        pytest.skip(f"MBPP test split not found under {folder} (set T2EVAL_DATA_DIR)")
    from t2eval.data import load_split

    return list(load_split("mbpp", "test", data_dir=folder))


# ----------------------------------------------------------------------------- extraction


def test_extract_code_prefers_the_block_defining_the_function():
    response = ("Example:\n```python\nprint(f(1))\n```\nSolution:\n```python\ndef f(x):\n    return x\n```\n"
                "Shell:\n```bash\nls\n```")
    assert scoring.extract_code(response, "f") == "def f(x):\n    return x\n"
    assert scoring.extract_code(response, None) == "print(f(1))\n"


def test_extract_code_unclosed_fence_and_raw():
    assert scoring.extract_code("Sure!\n```python\ndef f():\n    return 1", "f") == "def f():\n    return 1"
    assert scoring.extract_code("def f():\n    return 1\n", "f") == "def f():\n    return 1"
    assert scoring.extract_code("```\ndef f(): pass\n```", "f") == "def f(): pass\n"


def test_mbpp_entry_point_skips_builtins():
    assert mbpp.mbpp_entry_point(MBPP_DOC) == "similar_elements"
    assert mbpp.mbpp_entry_point({"test_list": ["assert math.isclose(area(2), 4)"]}) == "area"


def test_humaneval_program_full_function_keeps_prompt_imports_and_helpers(humaneval_docs):
    doc = humaneval_docs["HumanEval/38"]  # decode_cyclic uses the prompt's helper encode_cyclic
    function = doc["prompt"][doc["prompt"].index("def decode_cyclic"):] + doc["canonical_solution"]
    program = humaneval.humaneval_program(f"Here you go:\n```python\n{function}```", doc)
    assert program.index("def encode_cyclic") < program.index("def decode_cyclic")
    assert program.count("def decode_cyclic") == 1


def test_humaneval_program_body_only_is_indented(humaneval_docs):
    doc = humaneval_docs["HumanEval/0"]
    body = "return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])"
    program = humaneval.humaneval_program(f"```python\n{body}\n```", doc)
    assert program.startswith(doc["prompt"]) and program.endswith(f"    {body}\n")
    assert humaneval.score_humaneval(f"```python\n{body}\n```", doc) == 1.0


# ----------------------------------------------------------------------------- sandbox judging


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/38", "HumanEval/163"])
def test_canonical_humaneval_solutions_pass(humaneval_docs, task_id):
    doc = humaneval_docs[task_id]
    assert humaneval.score_humaneval(doc["canonical_solution"], doc) == 1.0  # as a completion
    full = f"```python\n{doc['prompt']}{doc['canonical_solution']}```"
    assert humaneval.score_humaneval(full, doc) == 1.0  # as a whole function in a block


def test_wrong_humaneval_answers_fail(humaneval_docs):
    doc = humaneval_docs["HumanEval/0"]
    assert humaneval.score_humaneval("```python\ndef has_close_elements(numbers, threshold):\n"
                                   "    return True\n```", doc) == 0.0
    assert humaneval.score_humaneval("I do not know.", doc) == 0.0
    assert humaneval.judge_humaneval("```python\nwhile True: pass\n```", doc, timeout=2).status == "timeout"


def test_mbpp_reference_and_wrong_code():
    assert mbpp.score_mbpp(f"```python\n{MBPP_DOC['code']}\n```", MBPP_DOC) == 1.0
    assert mbpp.score_mbpp("```python\ndef similar_elements(a, b):\n    return ()\n```", MBPP_DOC) == 0.0
    assert mbpp.score_mbpp("The answer is a set intersection.", MBPP_DOC) == 0.0


def test_mbpp_reference_solutions_of_real_test_docs(mbpp_test_docs):
    docs = mbpp_test_docs[:4] + [d for d in mbpp_test_docs if d["test_setup_code"].strip()][:1]
    for doc in docs:
        assert mbpp.score_mbpp(f"```python\n{doc['code']}\n```", doc) == 1.0, doc["task_id"]


def test_sandbox_error_is_raised_not_scored_zero(monkeypatch):
    import t2eval.sandbox

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        return Verdict(False, "error", "bubblewrap is gone")

    monkeypatch.setattr(t2eval.sandbox, "check_mbpp", broken)
    with pytest.raises(scoring.SandboxFailure, match="bubblewrap is gone"):
        mbpp.score_mbpp(MBPP_DOC["code"], MBPP_DOC)
    assert len(calls) == 2  # retried once


# ----------------------------------------------------------------------------- pass@k


def _brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of k-subsets of n samples (c correct) holding at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 2, 1), (5, 2, 3), (6, 3, 4), (4, 4, 2), (10, 1, 10)])
def test_pass_at_k_matches_brute_force(n, c, k):
    assert math.isclose(scoring.pass_at_k(n, c, k), _brute_pass_at_k(n, c, k))


def test_pass_at_k_rejects_bad_arguments():
    with pytest.raises(ValueError):
        scoring.pass_at_k(3, 1, 4)


def test_code_pass_at_k_judges_every_sample():
    right = f"```python\n{MBPP_DOC['code']}\n```"
    wrong = "```python\ndef similar_elements(a, b):\n    return ()\n```"
    got = scoring.code_pass_at_k([right, wrong, wrong, wrong], MBPP_DOC, mbpp.judge_mbpp, (1, 2))
    assert got == {"pass_at_1": 0.25, "pass_at_2": pytest.approx(0.5)}


# ----------------------------------------------------------------------------- reference format


def test_code_prefix_opens_a_fence_and_the_function():
    assert mbpp.code_prefix(MBPP_DOC) == "```python\ndef similar_elements(a, b):\n    "
    doc = {**MBPP_DOC, "code": "import re\r\nimport math\r\ndef helper(x):\r\n  return x\r\n"
                               "def similar_elements(a, b):\r\n  return tuple(set(a) & set(b))"}
    assert mbpp.code_head(doc) == "import re\nimport math\ndef similar_elements(a, b):\n"  # no helper leaked


def test_strip_top_level_keeps_definitions_and_drops_example_calls():
    program = ("import math\ndef f(x):\n    return x + 1\n\nprint(f(2))\nassert f(1) == 2\n"
               "if __name__ == '__main__':\n    f(3)\nLIMIT = 3\nY = f(2)\n@staticmethod\ndef g():\n    pass\n")
    assert scoring.strip_top_level(program) == ("import math\ndef f(x):\n    return x + 1\nLIMIT = 3\n"
                                                "@staticmethod\ndef g():\n    pass\n")
    cut = "def f(x):\n    return x + 1\ndef h(y:\n"  # generation stopped mid-statement
    assert scoring.strip_top_level(cut) == "def f(x):\n    return x + 1\n"


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/38"])
def test_reference_format_completions(humaneval_docs, task_id):
    doc = humaneval_docs[task_id]
    body = doc["canonical_solution"]
    assert humaneval.score_humaneval(body + "\n\nprint(1 / 0)\n", doc, completion=True) == 1.0  # example call stripped
    assert humaneval.score_humaneval(" " + body.lstrip(" ") + "```\nExplanation...", doc, completion=True) == 1.0
    assert humaneval.score_humaneval("return None\n", doc, completion=True) == 0.0


def test_mbpp_reference_format_completion():
    assert mbpp.score_mbpp(" return tuple(set(a) & set(b))\n\nprint(similar_elements((1,), (1,)))\n```",
                              MBPP_DOC, completion=True) == 1.0
    assert mbpp.score_mbpp("return ()\n```", MBPP_DOC, completion=True) == 0.0


def test_training_references_are_completions_that_pass(mbpp_test_docs):
    """mbpp_t2 trains in the reference format: its prompts end with the prefilled head and the
    SFT reference (the reference solution as a completion; tab-indented ones included) passes."""
    from t2eval.benchmarks.mbpp import mbpp_completion
    from t2eval.train.data import build_task

    task = build_task("mbpp_t2", data_dir=str(data_dir()))
    docs = task.train_docs[:12] + [d for d in task.train_docs if "\t" in d["code"]][:3]
    for doc in docs:
        assert task.reference(doc) == mbpp_completion(doc) and task.reference(doc).endswith("```")
        assert mbpp.score_mbpp(task.reference(doc), doc, completion=True) == 1.0, doc["task_id"]
    assert task.render(docs[0], None if task.chat is False else _Chat()).endswith(mbpp.code_prefix(docs[0]))
    assert "```" in task.stop


class _Chat:
    def apply_chat_template(self, messages, **_):
        return f"<user>{messages[0]['content']}</user><assistant>"
