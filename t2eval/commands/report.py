"""`t2eval report`: rebuild the paper's tables (markdown) and figures (PNG)."""

from __future__ import annotations

import click


@click.command()
@click.option("--results", "results", multiple=True, required=True,
              help="A folder (searched recursively) or file of lm-eval results_*.json and training runs; repeatable.")
@click.option("--out", "out_dir", default="reports", show_default=True, help="Folder for paper_tables.md and figures/.")
@click.option("--model", default=None, help="Base model for the #params column [read from the results].")
@click.option("--no-figures", is_flag=True, help="Tables only.")
def report(results, out_dir, model, no_figures):
    """Write OUT/paper_tables.md: Tables 1-5, 7, 8 in the paper's layout, each cell with its
    normalised score, document count and source file; figures in OUT/figures/.

    \b
    Example:
      t2eval report --results reports/runs --results runs/train --out reports/
    """
    from ..report import build_report

    try:
        path = build_report(list(results), out_dir, model=model, figures_on=not no_figures)
    except (FileNotFoundError, ValueError) as err:
        raise click.BadParameter(str(err), param_hint="--results") from err
    click.echo(path)
