"""scripts/confidence_rules.py: per-document base/adapted combination rules, measured offline."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "confidence_rules.py"


def _module():
    spec = importlib.util.spec_from_file_location("confidence_rules", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rules_pick_base_adapted_or_the_surer_answer():
    rules = _module().rules()
    base, adapted = [-0.1, -3.0], [-1.0, -0.9]  # base sure of option 0; adapted barely prefers 1
    assert rules["base"](base, adapted) == 0 and rules["adapted"](base, adapted) == 1
    assert rules["confident"](base, adapted) == 0  # base puts more mass on its own top option
    assert rules["average"](base, adapted) == 0
    assert rules["mix 1.0"](base, adapted) == 1 and rules["mix 0.0"](base, adapted) == 0
    assert rules["margin>=0.0"](base, adapted) == 1 and rules["margin>=0.1"](base, adapted) == 0
    assert rules["margin>=0.4"]([-1.0], [-2.0]) == 0  # one option: nothing to fall back from


def _run(folder: Path, logps: list[list[float]], gold: list[int], task: str = "bbh_ll_x") -> Path:
    folder.mkdir(parents=True)
    rows = [{"doc_id": i, "target": g, "filtered_resps": [[v, False] for v in lp]}
            for i, (lp, g) in enumerate(zip(logps, gold))]
    (folder / f"samples_{task}_123.4.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_thresholds_are_chosen_on_held_out_runs_and_reported_on_test(tmp_path):
    # held out: base always answers 0 (2 of 4 right); the adapted run is surely right on three
    # documents and wrong but unsure (top-2 margin 0.005) on the fourth, where base is right
    gold = [0, 1, 1, 0]
    base = _run(tmp_path / "val_none", [[-1, -2], [-1, -2], [-1, -2], [-1, -2]], gold)
    adapted = _run(tmp_path / "val_cls", [[-1, -3], [-3, -1], [-3, -1], [-1.01, -1.0]], gold)
    test_base = _run(tmp_path / "test_none", [[-1, -2], [-2, -1]], [0, 0])
    test_adapted = _run(tmp_path / "test_cls", [[-2, -1], [-2, -1]], [0, 0])
    done = subprocess.run([sys.executable, str(SCRIPT), "--base", str(base), "--adapted", str(adapted),
                           "--test-base", str(test_base), "--test-adapted", str(test_adapted)],
                          capture_output=True, text=True, check=True)
    rows = {line.split(" | ")[0].strip("| "): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert rows["base"].split(" | ")[1] == "50.0" and rows["adapted"].split(" | ")[1] == "75.0"  # held out
    # the best of each family on held-out data (100.0); ties go to the most base-like value
    assert rows["margin>=0.4"].split(" | ")[1] == "100.0" and rows["mix 0.5"].split(" | ")[1] == "100.0"
    assert not any(name.startswith("mix 0.6") or name.startswith("margin>=0.3") for name in rows)
    assert rows["base"].split(" | ")[3] == "50.0" and rows["adapted"].split(" | ")[3] == "0.0"  # test macro


def test_slimmed_samples_are_refused_with_the_reason(tmp_path):
    folder = tmp_path / "slim"
    folder.mkdir()
    (folder / "samples_bbh_ll_x_1.jsonl").write_text(json.dumps({"doc_id": 0, "target": 0, "acc": 1.0}) + "\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "--base", str(folder), "--adapted", str(folder)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "slimmed?" in done.stderr
