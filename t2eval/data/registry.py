"""The benchmark datasets t2eval knows, in their Hugging Face hub schemas.

`DATASETS` maps a short name (``gsm8k``, ``arc_easy``, ...) to a `DatasetSpec`
that says where the rows live on the hub, where they live in a local data
directory (the layout of ``../shared/datasets``), which splits exist and the
exact `datasets.Features` of the hub dataset, so that local JSONL files load
with the same column names, order and types as the hub would give.

`STOCK_TASKS` lists the built-in lm-evaluation-harness 0.4.13 tasks whose YAML
reads one of these hub datasets (``dataset_path`` / ``dataset_name``); those are
the tasks that `t2eval data import` makes work offline.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Features, List, Value


@dataclass(frozen=True)
class HubConfig:
    """One configuration (subset) of a hub dataset.

    Attributes:
        name: str, the hub config name, e.g. ``"ARC-Easy"`` or ``"algebra"``.
        where: tuple[str, str] | None, ``(column, value)`` selecting this config's
            rows from the local file when the local file holds several configs
            together (MATH: ``("type", "Algebra")``); None when the local file
            is exactly this config.
    """

    name: str
    where: tuple[str, str] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Where one benchmark lives, locally and on the hub.

    Attributes:
        name: str, the t2eval name (key of `DATASETS`).
        hub_path: str, the hub repository id, e.g. ``"openai/gsm8k"``.
        hub_configs: tuple[HubConfig, ...], the hub config(s) holding the rows. With
            several (MATH), the hub rows are their concatenation in this order,
            which is also the row order of the local file.
        local_dir: str, sub-folder of the data directory holding ``<split>.jsonl``.
        splits: tuple[str, ...], the available split names.
        features: datasets.Features, the hub schema (column order included).
        split_files: tuple[tuple[str, str], ...], (split, file name) pairs for splits whose
            local file is not ``<split>.jsonl``.
    """

    name: str
    hub_path: str
    hub_configs: tuple[HubConfig, ...]
    local_dir: str
    splits: tuple[str, ...]
    features: Features
    split_files: tuple[tuple[str, str], ...] = ()

    def file_name(self, split: str) -> str:
        """str: the local file of ``split``: ``<split>.jsonl`` unless ``split_files`` names
        another (BBH: one ``<task>.jsonl`` per task holds that config's test split)."""
        return dict(self.split_files).get(split, f"{split}.jsonl")

    @property
    def hub_label(self) -> str:
        """str: ``"hub_path [config, ...]"`` for messages."""
        return f"{self.hub_path} [{', '.join(c.name for c in self.hub_configs)}]"


_STR = Value("string")

GSM8K_FEATURES = Features({"question": _STR, "answer": _STR})

MBPP_FULL_FEATURES = Features(
    {
        "task_id": Value("int32"),
        "text": _STR,
        "code": _STR,
        "test_list": List(_STR),
        "test_setup_code": _STR,
        "challenge_test_list": List(_STR),
    }
)

MBPP_SANITIZED_FEATURES = Features(
    {
        "source_file": _STR,
        "task_id": Value("int32"),
        "prompt": _STR,
        "code": _STR,
        "test_imports": List(_STR),
        "test_list": List(_STR),
    }
)

ARC_FEATURES = Features(
    {
        "id": _STR,
        "question": _STR,
        "choices": {"text": List(_STR), "label": List(_STR)},
        "answerKey": _STR,
    }
)

MATH_FEATURES = Features({"problem": _STR, "level": _STR, "type": _STR, "solution": _STR})

MATH500_FEATURES = Features(
    {
        "problem": _STR,
        "solution": _STR,
        "answer": _STR,
        "subject": _STR,
        "level": Value("int64"),
        "unique_id": _STR,
    }
)

# EleutherAI/hendrycks_math config -> value of the `type` column, in the order
# of the local math/*.jsonl files (subject folders in alphabetical order).
MATH_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("algebra", "Algebra"),
    ("counting_and_probability", "Counting & Probability"),
    ("geometry", "Geometry"),
    ("intermediate_algebra", "Intermediate Algebra"),
    ("number_theory", "Number Theory"),
    ("prealgebra", "Prealgebra"),
    ("precalculus", "Precalculus"),
)

BBH_FEATURES = Features({"input": _STR, "target": _STR})

from t2eval.benchmarks.bbh import BBH_TASKS  # noqa: E402  (the task list lives with the benchmark)

BBH_HUB = "SaylorTwift/bbh"
_NO_LEADERBOARD_BBH = ("dyck_languages", "multistep_arithmetic_two", "word_sorting")  # no leaderboard_bbh_* task  # the hub dataset lm-eval's stock bbh_* tasks read

_MBPP_SPLITS = ("train", "test", "validation", "prompt")
_ARC_SPLITS = ("train", "validation", "test")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("gsm8k", "openai/gsm8k", (HubConfig("main"),), "gsm8k", ("train", "test"), GSM8K_FEATURES),
        DatasetSpec(
            "mbpp", "google-research-datasets/mbpp", (HubConfig("full"),), "mbpp", _MBPP_SPLITS, MBPP_FULL_FEATURES
        ),
        DatasetSpec(
            "mbpp_sanitized",
            "google-research-datasets/mbpp",
            (HubConfig("sanitized"),),
            "mbpp_sanitized",
            _MBPP_SPLITS,
            MBPP_SANITIZED_FEATURES,
        ),
        DatasetSpec(
            "arc_easy", "allenai/ai2_arc", (HubConfig("ARC-Easy"),), "ai2_arc/ARC-Easy", _ARC_SPLITS, ARC_FEATURES
        ),
        DatasetSpec(
            "arc_challenge",
            "allenai/ai2_arc",
            (HubConfig("ARC-Challenge"),),
            "ai2_arc/ARC-Challenge",
            _ARC_SPLITS,
            ARC_FEATURES,
        ),
        DatasetSpec(
            "math",
            "EleutherAI/hendrycks_math",
            tuple(HubConfig(config, ("type", value)) for config, value in MATH_SUBJECTS),
            "math",
            ("train", "test"),
            MATH_FEATURES,
        ),
        DatasetSpec(
            "math500", "HuggingFaceH4/MATH-500", (HubConfig("default"),), "math500", ("test",), MATH500_FEATURES
        ),
        *(DatasetSpec(f"bbh_{task}", BBH_HUB, (HubConfig(task),), "bbh", ("test",), BBH_FEATURES,
                      split_files=(("test", f"{task}.jsonl"),)) for task in BBH_TASKS),
    )
}

_MATH_TASK_SUFFIX = {
    "algebra": "algebra",
    "counting_and_probability": "counting_and_prob",
    "geometry": "geometry",
    "intermediate_algebra": "intermediate_algebra",
    "number_theory": "num_theory",
    "prealgebra": "prealgebra",
    "precalculus": "precalc",
}


def _math_tasks(config: str) -> tuple[str, ...]:
    """Stock lm-eval tasks reading EleutherAI/hendrycks_math config `config` (str)."""
    suffix = _MATH_TASK_SUFFIX[config]
    return tuple(
        f"{prefix}_{suffix}"
        for prefix in ("hendrycks_math", "minerva_math", "non_greedy_robustness_math", "prompt_robustness_math")
    )


# (hub_path, config) -> built-in lm-eval 0.4.13 tasks whose YAML has exactly that
# dataset_path / dataset_name (found by indexing lm_eval/tasks/**/*.yaml; the
# groups `ai2_arc`, `hendrycks_math`, `minerva_math` consist of these tasks).
# Not covered: leaderboard_math_*_hard (DigitalLearningGmbH/MATH-lighteval, whose
# hub row order could not be checked), mbpp_plus (evalplus/mbppplus), gsm8k_platinum,
# tinyBenchmarks, and translated variants (other hub datasets).
STOCK_TASKS: dict[tuple[str, str], tuple[str, ...]] = {  # in DATASETS order
    ("openai/gsm8k", "main"): (
        "gsm8k",
        "gsm8k_cot",
        "gsm8k_cot_llama",
        "gsm8k_cot_self_consistency",
        "gsm8k_cot_zeroshot",
        "gsm8k_llama",
    ),
    ("google-research-datasets/mbpp", "full"): ("mbpp", "mbpp_instruct"),
    ("google-research-datasets/mbpp", "sanitized"): (),
    ("allenai/ai2_arc", "ARC-Easy"): ("arc_easy",),
    ("allenai/ai2_arc", "ARC-Challenge"): ("arc_challenge", "arc_challenge_chat", "arc_challenge_llama"),
    **{("EleutherAI/hendrycks_math", config): _math_tasks(config) for config, _ in MATH_SUBJECTS},
    ("HuggingFaceH4/MATH-500", "default"): ("hendrycks_math500", "minerva_math500"),
    **{(BBH_HUB, task): tuple(f"bbh_{form}_{task}" for form in ("zeroshot", "cot_zeroshot", "fewshot", "cot_fewshot"))
       + (() if task in _NO_LEADERBOARD_BBH else (f"leaderboard_bbh_{task}",)) for task in BBH_TASKS},
}


def all_stock_tasks() -> list[str]:
    """list[str]: every task in `STOCK_TASKS`, sorted."""
    return sorted(task for tasks in STOCK_TASKS.values() for task in tasks)
