"""`t2eval compare`: one lm-eval run per configuration, resumable, one table with the oracle."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from conftest import data_dir
from test_backend import _experts_folder


@pytest.fixture
def offline_bbh(monkeypatch):
    monkeypatch.setenv("T2EVAL_DATA_DIR", str(data_dir()))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_bad_input_fails_before_anything_runs(tmp_path):
    from t2eval.compare import CompareError, Comparison, check_strategies

    with pytest.raises(CompareError, match="at least one task"):
        Comparison(tasks=[], strategies=["none"], out=tmp_path)
    with pytest.raises(CompareError, match="strategy goes in --strategies"):
        Comparison(tasks=["t"], strategies=["none"], out=tmp_path, model_args={"strategy": "cls"})
    with pytest.raises(CompareError, match="unknown configuration 'promt'"):
        check_strategies(Comparison(tasks=["t"], strategies=["promt"], out=tmp_path))
    with pytest.raises(CompareError, match=r"\+gaurd is not a boolean.*did you mean 'guard'"):
        check_strategies(Comparison(tasks=["t"], strategies=["prompt+gaurd"], out=tmp_path))


def test_a_flagged_configuration_sets_its_flags_only():
    from t2eval.compare import configuration_args

    assert configuration_args("prompt+guard") == {"strategy": "prompt", "guard": True}
    assert configuration_args("expert:math") == {"strategy": "expert:math"}


def test_compare_runs_each_configuration_once_and_tables_them(tiny_hf_folder, tmp_path, offline_bbh, monkeypatch):
    from t2eval import compare as module
    from t2eval.cli import main

    experts = _experts_folder(tiny_hf_folder, tmp_path / "experts")
    args = ["compare", "--tasks", "bbh_ll_navigate,bbh_ll_web_of_lies", "--strategies", "none,expert:math,prompt",
            "--limit", "4", "--out", str(tmp_path / "cmp"), "--model-args",
            f"pretrained={tiny_hf_folder},experts={experts}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    for expected in ("### bbh_ll_navigate", "### bbh_ll_web_of_lies", "| expert:math | 4 |", "| prompt | 4 |",
                     "oracle (upper bound, chosen in hindsight", "### macro over tasks"):
        assert expected in table, expected
    marker = json.loads((tmp_path / "cmp" / "expert-math" / "done.json").read_text())
    assert marker["strategy"] == "expert:math" and marker["limit"] == 4
    assert list((tmp_path / "cmp" / "prompt").glob("samples_bbh_ll_navigate_*.jsonl.gz"))
    # a configuration killed before its marker: rerun, its answers come from its response cache
    assert (tmp_path / "cmp" / "none" / "cache_rank0.db").is_file()
    for path in (tmp_path / "cmp" / "none").iterdir():
        if not path.name.startswith("cache"):
            path.unlink()
    from t2eval.harness.model import T2LM
    with monkeypatch.context() as patch:
        patch.setattr(T2LM, "_loglikelihood_tokens", lambda *a, **k: pytest.fail("a cached answer was computed again"))
        resumed = CliRunner().invoke(main, args, catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "cmp" / "comparison.md").read_text() == table
    # a rerun resumes: nothing is evaluated again, the same table comes out
    monkeypatch.setattr(module, "evaluate", lambda **kw: pytest.fail("a finished configuration ran again"))
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert again.exit_code == 0 and "done already" in again.output
    assert (tmp_path / "cmp" / "comparison.md").read_text() == table
    # other settings in the same folder are refused, not mixed
    changed = CliRunner().invoke(main, [*args[:-2], "--limit", "5", *args[-2:]])
    assert changed.exit_code != 0 and "holds a run with other settings" in changed.output


def test_compare_on_the_validation_split_is_keyed_apart(tiny_hf_folder, tmp_path, offline_bbh):
    """--split validation scores the held-out documents; the report never takes them for test cells."""
    from t2eval.cli import main
    from t2eval.report.runs import read_results, results_files

    args = ["compare", "--tasks", "bbh_ll_navigate", "--strategies", "none", "--limit", "3", "--split", "validation",
            "--out", str(tmp_path / "val"), "--model-args", f"pretrained={tiny_hf_folder}"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "validation split" in (tmp_path / "val" / "comparison.md").read_text()
    (results,) = results_files(tmp_path / "val" / "none")
    data = json.loads(results.read_text())
    assert data["n-samples"]["bbh_ll_navigate"]["original"] == 20  # the 20 held-out documents
    (score,) = read_results(results)
    assert score.method.endswith("@validation") and score.info["split"] == "validation"
    assert json.loads((tmp_path / "val" / "none" / "done.json").read_text())["split"] == "validation"
    bad = CliRunner().invoke(main, ["compare", "--tasks", "bbh_ll_navigate", "--split", "train"])
    assert bad.exit_code != 0 and "train" in bad.output


def _rows(markdown: str, task: str) -> dict[str, list[str]]:
    """{configuration: [n, score, Δ (CI)]} of one task's section of a comparison table."""
    section = re.split(rf"#+ {task} ", markdown)[1].split("\n#")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]
    return {row[0]: row[1:4] for row in rows[1:]}


@pytest.mark.slow
def test_compare_from_a_clean_clone_reproduces_a_committed_cell(tmp_path, offline_bbh, embedded):
    """`t2eval compare` on the embedded model with the shipped experts, on one task of the stated
    BBH slice (its first 40 documents), gives the committed table's numbers (reports/bbh_compare.md)."""
    from conftest import REPO
    from t2eval.cli import main

    task = "bbh_ll_boolean_expressions"
    args = ["compare", "--tasks", task, "--strategies", "none,expert:reasoning", "--limit", "40",
            "--out", str(tmp_path / "cmp")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fresh = _rows((tmp_path / "cmp" / "comparison.md").read_text(), task)
    committed = _rows((REPO / "reports" / "bbh_compare.md").read_text(), task)
    for configuration in ("none", "expert:reasoning"):
        assert fresh[configuration] == committed[configuration], configuration
