"""`t2eval check`: the expert-quality gate (fails when a shipped expert regresses)."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--gate", "gate_path", default=None,
              help="quality.toml to check [experts/<model-slug>/quality.toml of the embedded model].")
@click.option("--experts", "experts_dir", default=None, help="Folder of the expert files [the gate file's folder].")
@click.option("--data-dir", default=None, help="Local data folder [$T2EVAL_DATA_DIR, else the hub].")
@click.option("--update", is_flag=True, help="Re-measure every slice and rewrite the bounds in the gate file.")
def check(gate_path, experts_dir, data_dir, update):
    """Re-evaluate each shipped expert on its slices; exit 1 naming the expert, the task, the
    measured value and the bound when any falls below (or when an expert no longer matches
    its base model).

    \b
    Example:
      T2EVAL_DATA_DIR=../shared/datasets t2eval check
    """
    from ..adapt import default_experts_dir
    from ..models import DEFAULT_MODEL, model_slug
    from ..quality import GateError, run_gate

    if gate_path is None:
        folder = default_experts_dir(model_slug(DEFAULT_MODEL))
        if folder is None:
            raise click.UsageError("no shipped experts folder found; pass --gate experts/<model>/quality.toml")
        gate_path = folder / "quality.toml"
    try:
        failures = run_gate(gate_path, experts_dir, update=update, data_dir=data_dir,
                            say=lambda msg: click.echo(msg, err=True))
    except GateError as err:
        raise click.ClickException(str(err)) from err
    for failure in failures:
        click.echo(str(failure))
    if failures:
        sys.exit(1)
    click.echo(f"ok: every expert of {gate_path} is within its bounds")
