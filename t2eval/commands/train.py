"""`t2eval train`: train an SVF expert on a task (REINFORCE + KL, or SFT)."""

from __future__ import annotations

import sys

import click

from ..peft_methods import METHODS as PEFT_METHODS


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--task", required=True,
              help="gsm8k_t2 | mbpp_t2 | arc_easy_t2 | arc_challenge_t2 | math | cls | module:function, "
                   "or any lm-eval task: generate_until (gsm8k, ...: reward = the task's own metric; "
                   "--objective sft: its doc_to_target) or multiple choice (arc_easy, ...: --objective choice)")
@click.option("--model", "model", default=None, help="Embedded alias, hub id or folder [smollm2-135m-instruct].")
@click.option("--method", type=click.Choice(["svf", "lora-rl", *PEFT_METHODS]), default=None,
              help="svf (default): z vectors; lora-rl: the paper's ablation, REINFORCE on LoRA; "
                   "lora/dora/ia3: PEFT adapters (next-token baselines: see `t2eval baseline`).")
@click.option("--targets", default=None, help="SVF targets: mlp | attn | all | regex [mlp].")
@click.option("--preset", type=click.Choice(["paper", "cpu"]), default=None,
              help="paper: the paper's recipe (defaults); cpu: < 1 h for the embedded model on 2 cores.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML/JSON file of settings (see t2eval/train/config.py).")
@click.option("--objective", type=click.Choice(["rl", "sft", "choice"]), default=None,
              help="rl (default): REINFORCE + KL on generated answers; sft: next-token on references; "
                   "choice: a multiple-choice lm-eval task (arc_easy, ...) as a policy over its choices.")
@click.option("--kl", "kl", default=None, help="KL coefficient, or a comma list to sweep: 0,0.1,0.3.")
@click.option("--steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", default=None, help="Learning rate, or a comma list to sweep (not with a --kl list).")
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--device", default=None, help="auto | cpu | cuda[:i].")
@click.option("--run-dir", default=None, help="Run folder [runs/train/<task>-<method>-<objective>-seed<seed>].")
@click.option("--output", "-o", default=None,
              help="Also write the chosen expert here (.safetensors; a folder for PEFT methods).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.argument("overrides", nargs=-1)
def train(task, overrides, **options):
    """Train an SVF expert vector z on TASK's training split (halved into train/validation).

    Extra settings as KEY=VALUE (e.g. eval_every=5 param=sigmoid reward_wrong=-0.1).

    \b
    Examples:
      t2eval train --task gsm8k_t2 --preset cpu -o my-experts/math.safetensors
      t2eval train --task arc_easy_t2 --preset cpu --kl 0,0.1,0.3
      t2eval train --task arc_easy --objective choice --preset cpu   # stock lm-eval MC task
      t2eval train --task gsm8k reward_filter=flexible-extract       # any generate_until task
      t2eval train --task gsm8k_t2 --preset cpu --resume      # after Ctrl-C or kill -9
      t2eval train --task gsm8k_t2 --method lora-rl --lr 1e-4,5e-4   # Table 4, row 5
      t2eval train --task arc_easy_t2 --preset cpu engine=vllm  # rollouts by vLLM (needs vLLM)
    """
    run_training(task, overrides, **options)


def _numbers(text, hint: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError as err:
        raise click.BadParameter(f"expected numbers separated by commas, got {text!r}", param_hint=hint) from err


def run_training(task, overrides, *, method, model, targets, preset, config_file, objective, kl, steps,
                 batch_size, lr, seed, threads, device, run_dir, output, resume, quiet):
    """Build the config, train (sweeping --kl or --lr when given a list), report the result."""
    from ..train import ConfigError, ResumeError, TaskError, build_config, train_sweep

    kls, lrs = _numbers(kl, "--kl"), _numbers(lr, "--lr")
    if kls and lrs and len(kls) > 1 and len(lrs) > 1:
        raise click.UsageError("sweep one setting at a time: give a list to --kl or to --lr, not both")
    options = {"model": model, "method": method, "targets": targets, "objective": objective, "steps": steps,
               "batch_size": batch_size, "seed": seed, "threads": threads, "device": device,
               "kl": kls[0] if kls and len(kls) == 1 else None, "lr": lrs[0] if lrs and len(lrs) == 1 else None}
    try:
        cfg = build_config(task, preset, config_file, options, list(overrides))
    except (ConfigError, TypeError, ValueError) as err:
        raise click.UsageError(str(err)) from err
    key, values = ("lr", lrs) if lrs and len(lrs) > 1 else ("kl", kls if kls and len(kls) > 1 else [cfg.kl])
    run_dir = run_dir or f"runs/train/{task.replace(':', '_')}-{cfg.method}-{cfg.objective}-seed{cfg.seed}"
    try:
        best, results = train_sweep(cfg, values, run_dir, output=output, resume=resume, progress=not quiet, key=key)
    except (TaskError, ConfigError, ResumeError, ImportError) as err:
        raise click.ClickException(str(err)) from err
    if best.status == "interrupted":
        click.echo(f"interrupted after step {best.steps_done}; continue with: --run-dir {best.run_dir} --resume",
                   err=True)
        sys.exit(130)
    from ..distributed import is_main

    if not is_main():  # data parallel: rank 0 reports
        return
    for r in results:
        click.echo(f"{key}={r.expert.provenance[key]:g}: status={r.status} steps={r.steps_done} "
                   f"base_val={_fmt(r.base_val)} best_val={_fmt(r.best_val)} (step {r.best_step}) -> {r.run_dir}",
                   err=True)
    from ..train.policy import METHODS

    trained = METHODS.get(cfg.method)  # its artifact: an expert file, or a PEFT adapter folder
    chosen = output or f"{run_dir}/{trained.artifact_name}"
    click.echo(f"{trained.artifact_kind} '{best.expert.name}' (label {best.expert.label}, "
               f"{key}={best.expert.provenance[key]:g}, val {_fmt(best.best_val)} vs base {_fmt(best.base_val)}) "
               f"written to {chosen}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
