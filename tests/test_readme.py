"""The README's cheap examples run as written (the expensive ones, lm_eval and training runs,
are exercised by their own tests and by CI's README commands)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def params_examples() -> list[tuple[str, int]]:
    found = [(line.split("#")[0].strip(), int(line.split("#")[1].split()[0]))
             for block in blocks("bash") for line in block.splitlines() if line.startswith("t2eval params ")]
    assert len(found) == 3, "the README's parameter-count examples moved: update this test"
    return found


@pytest.mark.parametrize("command,expected", params_examples())
def test_params_examples_print_the_stated_counts(command, expected):
    from click.testing import CliRunner

    from t2eval.cli import main

    args = command.split()[1:]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and str(expected) in result.output, result.output


@pytest.mark.parametrize("command", ["eval", "train", "baseline", "report", "check", "params", "model", "data",
                                     "sandbox"])
def test_every_subcommand_the_readme_names_has_help(command):
    from click.testing import CliRunner

    from t2eval.cli import main

    assert f"t2eval {command}" in README
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output, result.output


@pytest.mark.slow
def test_svf_python_example_runs_as_written():
    """The SVF block, executed verbatim in the checkout (embedded model, shipped experts)."""
    [code] = [b for b in blocks("python") if "SVFAdapter" in b]
    check = code + "\nimport torch\nassert out.shape[1] > 0 and adapter.active is None\n"
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
