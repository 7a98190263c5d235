"""docs/ cannot go stale where the code can say it: the `--model t2` argument table in
docs/backend.md is the one `T2Args` generates, and every code or results path the README and
docs/ name exists (old module names fail here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md"] + DOCS
REGENERATE = 'python -c "from t2eval.harness.args import help_table; print(help_table(markdown=True))"'


def between(text: str, marker: str) -> str:
    found = re.findall(rf"<!-- {marker} -->\n(.*?)\n?<!-- /{marker} -->", text, flags=re.S)
    assert len(found) == 1, f"expected one <!-- {marker} --> ... <!-- /{marker} --> block, found {len(found)}"
    return found[0]


def test_backend_argument_table_is_the_generated_one():
    from t2eval.harness.args import help_table

    written = between((ROOT / "docs" / "backend.md").read_text(), "t2-args").strip()
    assert written == help_table(markdown=True).strip(), (
        "docs/backend.md's --model_args table differs from t2eval.harness.args.T2Args: replace the text "
        f"between <!-- t2-args --> and <!-- /t2-args --> with the output of\n    {REGENERATE}")


def test_the_readme_keeps_no_argument_table_of_its_own():
    readme = (ROOT / "README.md").read_text()
    assert "| `pretrained` |" not in readme and "<!-- t2-args -->" not in readme, \
        "the --model_args table lives in docs/backend.md only (generated from T2Args)"


# paths like `t2eval/harness/model.py`, task_configs/utils.py, reports/training.md, experts/README.md
PATH = re.compile(r"(?<![\w./<>$-])((?:t2eval|task_configs|reports|experts|benchmarks|scripts|tests|constraints)"
                  r"/[\w.*/-]*[\w*/])")


def cited(text: str) -> list[str]:
    """Repository paths a page names, outside fenced code blocks (example commands write to
    places that need not exist); placeholders like experts/<model-slug>/ are not matched."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m for m in PATH.findall(text) if "<" not in m]


def test_the_path_parser():
    text = "`t2eval/harness/plugin.py`, see reports/training.md. experts/<model-slug>/ $T2EVAL_CACHE/x\n" \
           "```\nt2eval report --out reports/not_there/\n```\nmy-t2eval/x"
    assert cited(text) == ["t2eval/harness/plugin.py", "reports/training.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page):
    missing = [p for p in cited(page.read_text())
               if not (list(ROOT.glob(p)) if "*" in p else (ROOT / p).exists())]
    assert not missing, f"{page.relative_to(ROOT)} names paths that are not in the checkout: {missing}"


@pytest.mark.parametrize("old", ["t2eval/backend/", "t2eval.backend", "lm_eval_plugin"])
def test_no_page_names_a_removed_module(old):
    stale = [str(p.relative_to(ROOT)) for p in PAGES if old in p.read_text()]
    assert not stale, f"{old} is gone (now t2eval/harness/, t2eval/adapt/): still named in {stale}"
