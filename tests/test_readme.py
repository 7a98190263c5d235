"""The README's and docs/'s cheap examples run as written (the expensive ones, lm_eval and
training runs, are exercised by their own tests and by CI's README commands); the README stays
short and every relative link in it and in docs/ leads somewhere."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
TEXT = "\n".join([README] + [doc.read_text() for doc in DOCS])   # the examples live in both
MAX_README_LINES = 150


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.S)


def params_examples() -> list[tuple[str, int]]:
    found = [(line.split("#")[0].strip(), int(line.split("#")[1].split()[0]))
             for block in blocks("bash") for line in block.splitlines() if line.startswith("t2eval params ")]
    assert len(found) == 3, "the parameter-count examples (README.md / docs/) moved: update this test"
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

    assert f"t2eval {command}" in TEXT
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output, result.output


@pytest.mark.slow
def test_svf_python_example_runs_as_written():
    """The SVF block (docs/svf.md), executed verbatim in the checkout (embedded model, shipped experts)."""
    [code] = [b for b in blocks("python") if "SVFAdapter" in b]
    check = code + "\nimport torch\nassert out.shape[1] > 0 and adapter.active is None\n"
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_readme_is_short():
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, (f"README.md has {lines} lines (at most {MAX_README_LINES}): "
                                       "move details into docs/ and link them")


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")   # links and images


def relative_links(text: str) -> list[str]:
    """Targets of the markdown links in ``text`` that point into the repository (no URL, no
    pure #anchor), with any #anchor cut off; fenced code blocks left out."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    targets = [t.split("#")[0] for t in LINK.findall(text)]
    return [t for t in targets if t and not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_relative_links_parser():
    text = "[a](docs/x.md) [b](https://x.org/y) [c](#top) [d](../r.md#sec) ![img](p.png)\n```\n[e](no.md)\n```"
    assert relative_links(text) == ["docs/x.md", "../r.md", "p.png"]


@pytest.mark.parametrize("doc", [ROOT / "README.md"] + DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file(doc):
    links = relative_links(doc.read_text())
    missing = [link for link in links if not (doc.parent / link).exists()]
    assert not missing, f"{doc.relative_to(ROOT)} links to missing files: {missing}"
