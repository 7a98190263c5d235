"""Merge a PEFT adapter into its base model and save a plain Hugging Face folder, so that
`--model t2 pretrained=<folder> strategy=none` scores it through t2's shared-context
log-likelihood path (one forward per distinct context; `--model hf peft=` runs one per option).

Usage:
  python scripts/merge_adapter.py runs/lora_choice/arc_easy-lora-mlp/lr0.0002/adapter runs/lora_choice_merged
  t2eval compare --tasks $TASKS --strategies none --model-args pretrained=runs/lora_choice_merged --out runs/bbh_lora

The base model is the one the adapter names (``base_model_name_or_path``; an alias such as
``smollm2-135m-instruct`` resolves to the embedded model). Before saving, the merged model's
logits are checked against the unmerged PEFT model on random tokens (max abs difference ≤
--tolerance), and the adapter's ``adapter_config.json`` / ``t2eval.json`` are copied into the
folder as ``merged_adapter_config.json`` / ``merged_adapter_t2eval.json`` so the merged model says
where it came from (not under their own names: transformers would load a folder holding an
``adapter_config.json`` as an adapter).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("adapter", type=Path, help="a PEFT adapter folder (adapter_config.json, weights)")
    parser.add_argument("out", type=Path, help="the folder to write the merged model to (must not exist)")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max abs logit difference allowed")
    args = parser.parse_args()
    config_path = args.adapter / "adapter_config.json"
    if not config_path.is_file():
        raise SystemExit(f"{args.adapter}: no adapter_config.json — pass a PEFT adapter folder "
                         "(t2eval train --method lora writes one under <run>/adapter)")
    if args.out.exists():
        raise SystemExit(f"{args.out} exists: choose a new folder (nothing was written)")

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from t2eval.models import resolve_model_path

    base_name = json.loads(config_path.read_text()).get("base_model_name_or_path")
    base = resolve_model_path(base_name)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                                      str(args.adapter)).eval()
    tokens = torch.randint(0, model.config.vocab_size, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(tokens).logits
        merged = model.merge_and_unload().eval()
        diff = (merged(tokens).logits - before).abs().max().item()
    if diff > args.tolerance:
        raise SystemExit(f"merged logits differ from the adapter's by {diff:.2e} > {args.tolerance}: not saved")
    merged.save_pretrained(args.out)
    AutoTokenizer.from_pretrained(base).save_pretrained(args.out)
    for name, copy in (("adapter_config.json", "merged_adapter_config.json"),
                       ("t2eval.json", "merged_adapter_t2eval.json")):
        if (args.adapter / name).is_file():
            shutil.copy(args.adapter / name, args.out / copy)
    print(f"merged {args.adapter} into {base} -> {args.out} (max abs logit difference {diff:.1e})")


if __name__ == "__main__":
    main()
