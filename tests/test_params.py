"""`t2eval params` reproduces the paper's parameter counts from a Llama-3-8B config."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from t2eval.cli import main

from conftest import REPO

LLAMA3 = str(REPO / "tests" / "fixtures" / "llama-3-8b-instruct")


@pytest.mark.parametrize("args, expected, paper", [
    (["--targets", "mlp"], 393_216, "0.39M"),
    (["--targets", "attn"], 163_840, "0.16M"),
    (["--lora-rank", "16", "--lora-modules", "q_proj,v_proj"], 6_815_744, "6.82M"),
])
def test_llama3_8b_counts_match_the_paper(args, expected, paper):
    result = CliRunner().invoke(main, ["params", "--model", LLAMA3, *args])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(expected)
    assert f"{expected / 1e6:.2f}M" == paper


def test_params_needs_exactly_one_kind():
    result = CliRunner().invoke(main, ["params", "--model", LLAMA3])
    assert result.exit_code != 0 and "exactly one" in result.output


def test_bad_targets_are_explained():
    result = CliRunner().invoke(main, ["params", "--model", LLAMA3, "--targets", "mlpp"])
    assert result.exit_code != 0 and "did you mean 'mlp'" in result.output
