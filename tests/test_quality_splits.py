"""The gate's validation slices (`split = "validation"` in quality.toml) never read a test split."""

from __future__ import annotations

import pytest

from conftest import data_dir

pytestmark = pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_arc_easy_validation_slice_is_its_own_validation_split():
    from t2eval.harness.tasks import lm_eval_task
    from t2eval.quality import eval_docs

    task = lm_eval_task("arc_easy")
    _, docs = eval_docs("arc_easy", 10_000, split="validation")
    ids = {d["id"] for d in docs}
    assert len(docs) == 570 and not ids & {d["id"] for d in task.test_docs()}
    assert not ids & {d["id"] for d in task.training_docs()}  # not the trainer's documents either


def test_arith_validation_slice_is_its_own_validation_split():
    from t2eval.data import load_split
    from t2eval.quality import eval_docs

    _, docs = eval_docs("arith_t2", 100, split="validation")
    assert docs == [dict(r) for r in load_split("arith", "validation")][:100]
    for split in ("train", "test"):
        assert not {d["question"] for d in docs} & {r["question"] for r in load_split("arith", split)}


def test_pooled_validation_slice_is_the_trainers_held_out_half():
    from t2eval.benchmarks.dispatch import DISPATCH_LABELS, dispatch_pool
    from t2eval.data import load_split
    from t2eval.dispatch import question_of
    from t2eval.quality import eval_docs

    trained, docs = eval_docs("dispatch_t2", 100, split="validation")
    assert len(docs) == 100 and all(d in trained.val_docs for d in docs)
    assert not any(d in trained.train_docs for d in docs)
    # the pooled test prompts; a question the source dataset itself repeats in its own train and
    # test splits (MBPP: 3, ARC-Easy: 7) may be in both, nothing else
    repeated = {question_of(r, "") for name in DISPATCH_LABELS for r in load_split(name, "train")}
    both = {d["question"] for d in docs} & {d["question"] for d in dispatch_pool(100, 1234)}
    assert both <= repeated


def test_check_without_gate_visits_every_shipped_model_and_says_what_it_skips(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from t2eval import adapt, models
    from t2eval.cli import main

    for slug in ("gemma3-270m", "smollm2-135m-instruct"):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "quality.toml").write_text(f'model = "{slug}"\n\n[experts.reasoning]\ntask = "arc_easy"\n')
    monkeypatch.setattr(adapt, "shipped_experts_root", lambda: tmp_path)
    monkeypatch.setattr(models, "embedded_installed", lambda name: False)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.count("skip ") == 2 and "gemma3-270m is not installed (scripts/install.sh gemma" in result.output
