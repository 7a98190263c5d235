"""scripts/merge_adapter.py: a PEFT adapter merged into its base gives the adapter's logits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "merge_adapter.py"


def _adapter(base: Path, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, target_modules=["up_proj", "down_proj"], init_lora_weights=False))
    model.save_pretrained(out)
    (out / "t2eval.json").write_text(json.dumps({"method": "lora", "objective": "choice"}))
    return out


def test_merged_model_reproduces_the_adapter_and_names_it(tiny_hf_folder, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = _adapter(tiny_hf_folder, tmp_path / "adapter")
    out = tmp_path / "merged"
    done = subprocess.run([sys.executable, str(SCRIPT), str(adapter), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    tokens = torch.randint(0, 1000, (1, 16))
    with torch.no_grad():
        want = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_hf_folder), str(adapter))(tokens).logits
        got = AutoModelForCausalLM.from_pretrained(out)(tokens).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_hf_folder)(tokens).logits
    assert (got - want).abs().max() < 1e-4 < (base - want).abs().max()  # the adapter changes the model
    assert json.loads((out / "merged_adapter_t2eval.json").read_text())["objective"] == "choice"
    assert (out / "merged_adapter_config.json").is_file() and (out / "tokenizer.json").is_file()
    again = subprocess.run([sys.executable, str(SCRIPT), str(adapter), str(out)], capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr  # never overwrites


def test_a_folder_without_an_adapter_is_refused_with_the_fix(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "no adapter_config.json" in done.stderr and not (tmp_path / "out").exists()
