"""`t2eval check`: the expert-quality gate (fails when a shipped expert regresses)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--gate", "gate_path", default=None,
              help="quality.toml to check [every shipped experts/<model-slug>/quality.toml whose model is "
                   "installed].")
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
    from ..adapt import shipped_experts_root
    from ..models import embedded_installed, install_hint
    from ..quality import GateError, read_gate, run_gate

    gates = [Path(gate_path)] if gate_path else sorted(shipped_experts_root().glob("*/quality.toml"))
    if not gates:
        raise click.UsageError("no shipped experts folder found; pass --gate experts/<model>/quality.toml")
    failed = False
    for gate in gates:
        try:
            model, _ = read_gate(gate)
            if gate_path is None and not embedded_installed(model):
                click.echo(f"skip {gate}: {model} is not installed ({install_hint(model)})")
                continue
            failures = run_gate(gate, experts_dir, update=update, data_dir=data_dir,
                                say=lambda msg: click.echo(msg, err=True))
        except GateError as err:
            raise click.ClickException(str(err)) from err
        for failure in failures:
            click.echo(str(failure))
        failed |= bool(failures)
        if not failures:
            click.echo(f"ok: every expert of {gate} is within its bounds")
    if failed:
        sys.exit(1)
