"""`t2eval train`: train an SVF expert on a task (REINFORCE + KL, or SFT)."""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--task", required=True,
              help="gsm8k_t2 | mbpp_t2 | arc_easy_t2 | arc_challenge_t2 | math | cls | module:function")
@click.option("--model", "model", default=None, help="Embedded alias, hub id or folder [smollm2-135m-instruct].")
@click.option("--targets", default=None, help="SVF targets: mlp | attn | all | regex [mlp].")
@click.option("--preset", type=click.Choice(["paper", "cpu"]), default=None,
              help="paper: the paper's recipe (defaults); cpu: < 1 h for the embedded model on 2 cores.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="YAML/JSON file of settings (see t2eval/train/config.py).")
@click.option("--objective", type=click.Choice(["rl", "sft"]), default=None, help="rl (default) or sft.")
@click.option("--kl", "kl", default=None, help="KL coefficient, or a comma list to sweep: 0,0.1,0.3.")
@click.option("--steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--device", default=None, help="auto | cpu | cuda[:i].")
@click.option("--run-dir", default=None, help="Run folder [runs/train/<task>-<objective>-seed<seed>].")
@click.option("--output", "-o", default=None, help="Also write the chosen expert here (.safetensors).")
@click.option("--resume", is_flag=True, help="Continue the run in --run-dir from its last checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.argument("overrides", nargs=-1)
def train(task, model, targets, preset, config_file, objective, kl, steps, batch_size, lr, seed, threads,
          device, run_dir, output, resume, quiet, overrides):
    """Train an SVF expert vector z on TASK's training split (halved into train/validation).

    Extra settings as KEY=VALUE (e.g. eval_every=5 param=sigmoid reward_wrong=-0.1).

    \b
    Examples:
      t2eval train --task gsm8k_t2 --preset cpu -o experts/smollm2-135m-instruct/math.safetensors
      t2eval train --task arc_easy_t2 --preset cpu --kl 0,0.1,0.3
      t2eval train --task gsm8k_t2 --preset cpu --resume      # after Ctrl-C or kill -9
    """
    from ..train import ConfigError, ResumeError, TaskError, build_config, train_sweep

    kls = None
    if kl is not None:
        try:
            kls = [float(v) for v in str(kl).split(",") if v.strip()]
        except ValueError as err:
            raise click.BadParameter(f"expected numbers separated by commas, got {kl!r}", param_hint="--kl") from err
    options = {"model": model, "targets": targets, "objective": objective, "steps": steps,
               "batch_size": batch_size, "lr": lr, "seed": seed, "threads": threads, "device": device}
    if kls and len(kls) == 1:
        options["kl"] = kls[0]
    try:
        cfg = build_config(task, preset, config_file, options, list(overrides))
    except (ConfigError, TypeError) as err:
        raise click.UsageError(str(err)) from err
    kls = kls or [cfg.kl]
    run_dir = run_dir or f"runs/train/{task.replace(':', '_')}-{cfg.objective}-seed{cfg.seed}"
    try:
        best, results = train_sweep(cfg, kls, run_dir, output=output, resume=resume, progress=not quiet)
    except (TaskError, ConfigError, ResumeError) as err:
        raise click.ClickException(str(err)) from err
    if best.status == "interrupted":
        click.echo(f"interrupted after step {best.steps_done}; continue with: --run-dir {best.run_dir} --resume",
                   err=True)
        sys.exit(130)
    for r in results:
        click.echo(f"kl={r.expert.provenance['kl']:g}: status={r.status} steps={r.steps_done} "
                   f"base_val={_fmt(r.base_val)} best_val={_fmt(r.best_val)} (step {r.best_step}) -> {r.run_dir}",
                   err=True)
    chosen = output or (f"{run_dir}/expert.safetensors")
    click.echo(f"expert '{best.expert.name}' (label {best.expert.label}, kl={best.expert.provenance['kl']:g}, "
               f"val {_fmt(best.best_val)} vs base {_fmt(best.base_val)}) written to {chosen}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
