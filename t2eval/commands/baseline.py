"""`t2eval baseline`: the paper's PEFT baselines (LoRA / DoRA / IA3, next-token fine-tuning)."""

from __future__ import annotations

import click

from ..peft_methods import METHODS as PEFT_METHODS
from .train import run_training


@click.command()
@click.option("--method", type=click.Choice(list(PEFT_METHODS)), default="lora", show_default=True)
@click.option("--task", required=True, help="gsm8k_t2 | mbpp_t2 | arc_easy_t2 | arc_challenge_t2 | math")
@click.option("--model", "model", default=None, help="Embedded alias, hub id or folder [smollm2-135m-instruct].")
@click.option("--preset", type=click.Choice(["paper", "cpu"]), default=None,
              help="cpu: the trainer's small CPU recipe (steps, batch, validation size).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML/JSON file of settings (see t2eval/train/config.py).")
@click.option("--lr", default=None, help="Learning rate, or a comma list to sweep [2e-4].")
@click.option("--steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--device", default=None, help="auto | cpu | cuda[:i].")
@click.option("--run-dir", default=None, help="Run folder [runs/train/<task>-<method>-sft-seed<seed>].")
@click.option("--output", "-o", default=None, help="Also write the chosen adapter folder here.")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.argument("overrides", nargs=-1)
def baseline(method, task, overrides, **options):
    """Fine-tune a PEFT adapter on TASK's reference solutions (next-token prediction).

    Same train/validation halves, prompts (chat template) and validation metric as
    `t2eval train`; defaults: rank 16 on q_proj,v_proj (IA3: k,v,down), lr 2e-4, clip 1.0
    (settings as KEY=VALUE: rank=8 lora_alpha=16 peft_modules=q_proj,k_proj,v_proj clip=0.5).
    The adapter is saved in PEFT's format, so stock lm-eval evaluates it:

    \b
      t2eval baseline --method lora --task gsm8k_t2 --preset cpu --lr 1e-4,5e-4 -o runs/lora-gsm8k
      lm_eval --model hf --model_args pretrained=$(t2eval model path),peft=runs/lora-gsm8k \\
              --tasks gsm8k_t2 --apply_chat_template
    """
    run_training(task, overrides, method=method, objective="sft", targets=None, kl=None, **options)
