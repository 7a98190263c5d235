"""`t2eval baseline` on the embedded model: a LoRA adapter in PEFT's own format, evaluated
by stock `lm_eval --model hf --model_args ...,peft=DIR`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import data_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not data_dir().is_dir(), reason=f"benchmark data not found at {data_dir()}")]


def test_lora_baseline_trains_and_stock_lm_eval_loads_it(tmp_path, embedded):
    from t2eval.models import resolve_model_path

    env = dict(os.environ, T2EVAL_DATA_DIR=str(data_dir()), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1")
    out = tmp_path / "lora-arc"
    train = [sys.executable, "-m", "t2eval.cli", "baseline", "--method", "lora", "--task", "arc_easy_t2",
             "--steps", "2", "--batch-size", "4", "--run-dir", str(tmp_path / "run"), "-o", str(out), "--quiet",
             "micro_batch=4", "val_size=4", "eval_every=2", "max_new_tokens=4", "threads=1", "lr=0.01"]
    proc = subprocess.run(train, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lora adapter" in proc.stdout
    meta = json.loads((out / "t2eval.json").read_text())
    assert meta["method"] == "lora" and meta["objective"] == "sft" and meta["task"] == "arc_easy_t2"
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert config["r"] == 16
    steps = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [s["lr"] for s in steps if s["type"] == "step"][0] == 0.01

    pretrained = resolve_model_path("smollm2-135m-instruct")
    results = tmp_path / "results"
    evaluate = ["lm_eval", "--model", "hf", "--model_args", f"pretrained={pretrained},peft={out}",
                "--tasks", "arc_easy_t2", "--limit", "4", "--apply_chat_template", "--gen_kwargs",
                "max_gen_toks=4", "--device", "cpu", "--output_path", str(results)]
    proc = subprocess.run(evaluate, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [file] = list(results.rglob("results_*.json"))
    report = json.loads(file.read_text())
    assert report["config"]["model_args"]["peft"] == str(out)
    assert report["results"]["arc_easy_t2"]["sample_len"] == 4
