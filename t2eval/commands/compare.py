"""`t2eval compare`: several --model t2 configurations on the same tasks, one table."""

from __future__ import annotations

import click


@click.command()
@click.option("--tasks", required=True, help="Comma-separated lm-eval tasks (e.g. bbh_ll_navigate,arc_challenge).")
@click.option("--strategies", default="none,prompt,cls,fewshot", show_default=True,
              help="Comma-separated configurations: none (base weights), prompt, cls, fewshot, uniform, "
                   "expert:<name> (a fixed expert); +<flag> sets a boolean t2 argument in that configuration "
                   "only (prompt+guard).")
@click.option("--out", default="runs/compare", show_default=True, type=click.Path(file_okay=False),
              help="Folder for one subfolder per configuration (reused: finished configurations are skipped).")
@click.option("--limit", type=int, default=None, help="Documents per task (a smoke test; omit for the full tasks).")
@click.option("--model-args", default="", help="Shared model arguments k=v,k=v (experts=, pretrained=, dispatch=...).")
@click.option("--batch-size", default=8, show_default=True, type=int)
@click.option("--apply-chat-template", is_flag=True, help="As lm-eval's --apply_chat_template.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "validation"]),
              help="validation: score each task's validation split (held-out documents, for choosing settings "
                   "and defaults); such runs are never test-table cells.")
@click.option("--table", "table_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the markdown table here [<out>/comparison.md].")
def compare(tasks, strategies, out, limit, model_args, batch_size, apply_chat_template, device, split, table_path):
    """Run each configuration through lm-eval (per-document samples kept), then print one
    table: per task every configuration with its difference to base (paired 95% CI), pass-1
    routing and seconds, the oracle (best fixed choice in hindsight, an upper bound) and each
    strategy's regret against it, and a macro row.

    \b
    Example (a smoke test; drop --limit for numbers):
      t2eval compare --tasks bbh_ll_navigate,bbh_ll_snarks --strategies none,prompt,expert:reasoning --limit 20
    """
    from pathlib import Path

    from ..compare import CompareError, Comparison, run_all
    from ..report.runs import folder_scores
    from ..report.suite import compare_table

    try:
        args = dict(kv.split("=", 1) for kv in model_args.split(",") if kv)
        comparison = Comparison(tasks=[t for t in tasks.split(",") if t], strategies=[s for s in strategies.split(",") if s],
                                out=Path(out), limit=limit, model_args=args, batch_size=batch_size,
                                apply_chat_template=apply_chat_template, device=device, split=split)
        folders = run_all(comparison, say=lambda msg: click.echo(msg, err=True))
    except (CompareError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    scores = {strategy: folder_scores(folder) for strategy, folder in zip(comparison.strategies, folders)}
    table = compare_table(scores)
    if split != "test":
        table = f"*Scored on each task's {split} split (held-out documents), not its test split.*\n\n" + table
    if limit:
        table = (f"*A slice: the first {limit} documents of each task (--limit). A smoke test unless stated "
                 "as a slice of at least 500 documents in all.*\n\n" + table)
    target = Path(table_path) if table_path else comparison.out / "comparison.md"
    target.write_text(table + "\n")
    click.echo(table)
    click.echo(f"\nwrote {target}", err=True)
