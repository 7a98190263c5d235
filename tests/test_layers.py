"""The house rules, checked on the source: lm-eval is imported only by the lm-eval layer
(``t2eval/harness/``), a plain ``--model hf`` run never loads t2's model class, and no class
grows past 300 lines."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import t2eval

PACKAGE = Path(t2eval.__file__).parent
LAYER = PACKAGE / "harness"
MAX_CLASS_LINES = 300


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _imported(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_only_the_lm_eval_layer_imports_lm_eval():
    offenders = [f"{path.relative_to(PACKAGE.parent)} imports {name}"
                 for path, tree in _modules() if LAYER not in path.parents
                 for name in _imported(tree) if name == "lm_eval" or name.startswith("lm_eval.")]
    assert not offenders, "lm-eval outside t2eval/harness/:\n" + "\n".join(offenders)


def test_the_layer_check_sees_function_level_imports(tmp_path):
    tree = ast.parse("def f():\n    from lm_eval import simple_evaluate\n")
    assert "lm_eval" in _imported(tree)


def test_no_class_is_longer_than_300_lines():
    long = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, tree in _modules() for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES]
    assert not long, "\n".join(long)


def test_core_packages_load_without_lm_eval():
    code = ("import sys, json\n"
            "import t2eval.adapt, t2eval.svf, t2eval.dispatch, t2eval.train, t2eval.report, t2eval.quality\n"
            "import t2eval.harness.plugin, t2eval.harness\n"
            "print(json.dumps(sorted(m for m in sys.modules if m == 'lm_eval' or m.startswith('lm_eval.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_plain_hf_run_does_not_import_the_t2_model_class(tiny_hf_folder):
    """``lm_eval --model hf`` with the plugin installed: t2's tasks are found (the hook ran) but
    neither the model class nor the adaptation core is imported."""
    code = (
        "import sys, json\n"
        "from lm_eval.__main__ import cli_evaluate\n"
        f"sys.argv = ['lm_eval', '--model', 'hf', '--model_args', 'pretrained={tiny_hf_folder}',"
        " '--tasks', 'arith_t2', '--limit', '1', '--gen_kwargs', 'max_gen_toks=2', '--device', 'cpu']\n"
        "cli_evaluate()\n"
        "print(json.dumps({'hooked': 'lm_eval.api.registry' in sys.modules,"
        " 'loaded': sorted(m for m in sys.modules if m.startswith(('t2eval.harness.model', 't2eval.adapt')))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info == {"hooked": True, "loaded": []}
