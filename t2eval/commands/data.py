"""`t2eval data`: inspect the benchmark data and make lm-eval's stock tasks run offline."""

from __future__ import annotations

from pathlib import Path

import click

from t2eval.data import DATA_DIR_ENV, DATASETS, DataError, resolve_data_dir
from t2eval.data.registry import DatasetSpec
from t2eval.data.stock import (
    CacheTarget,
    ImportResult,
    cache_status,
    cache_targets,
    cached_rows,
    datasets_cache_dir,
    import_stock_tasks,
    local_row_counts,
)

_DATA_DIR_HELP = f"local data directory (layout of ../shared/datasets); default: ${DATA_DIR_ENV}"
_CACHE_DIR_HELP = (
    "datasets cache root; default: $HF_DATASETS_CACHE, else $HF_HOME/datasets, else ~/.cache/huggingface/datasets"
)


@click.group()
def data():
    """Benchmark data: where it loads from, and offline use of lm-eval's built-in tasks."""


def _format_rows(rows: dict[str, int | None] | None) -> str:
    """str: ``"train=7473 test=1319"``; ``missing`` for absent files; ``?`` when unknown."""
    if rows is None:
        return "? (not downloaded yet)"
    return " ".join(f"{split}={'missing' if n is None else n}" for split, n in rows.items())


def _hub_rows(spec: DatasetSpec, cache_root: Path) -> dict[str, int] | None:
    """dict[str, int] | None: rows per split of `spec` from the datasets cache (configs summed)."""
    per_config = [cached_rows(CacheTarget(spec, config), cache_root) for config in spec.hub_configs]
    if any(rows is None for rows in per_config):
        return None
    return {split: sum(rows.get(split, 0) for rows in per_config) for split in spec.splits}


def _source_line(data_dir: Path | None, explicit: str | None) -> str:
    """str: where rows come from, and why."""
    if data_dir is None:
        return f"data directory: none (no --data-dir, ${DATA_DIR_ENV} unset): rows come from the Hugging Face hub"
    origin = "--data-dir" if explicit else f"${DATA_DIR_ENV}"
    state = "" if data_dir.is_dir() else "  [DOES NOT EXIST]"
    return f"data directory: {data_dir} (from {origin}){state}"


def _echo_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print `rows` (list of str tuples) under `header` in left-aligned columns (last one unpadded)."""
    widths = [max(len(row[i]) for row in [header, *rows]) + 2 for i in range(len(header) - 1)]
    for row in [header, *rows]:
        click.echo("".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[-1])


def _hub_where(spec: DatasetSpec) -> str:
    """str: ``"hub openai/gsm8k [main]"``; MATH's 7 subject configs are abbreviated."""
    if len(spec.hub_configs) == 1:
        return f"hub {spec.hub_label}"
    return f"hub {spec.hub_path} [{len(spec.hub_configs)} configs, concatenated]"


@data.command("list")
@click.option("--data-dir", default=None, help=_DATA_DIR_HELP)
@click.option("--cache-dir", default=None, help=_CACHE_DIR_HELP)
def list_command(data_dir: str | None, cache_dir: str | None):
    """Show each dataset, where it loads from, rows per split, and the stock-task cache state."""
    directory = resolve_data_dir(data_dir)
    cache_root = datasets_cache_dir(cache_dir)
    click.echo(_source_line(directory, data_dir))
    click.echo(f"datasets cache: {cache_root}\n")
    rows = []
    for spec in DATASETS.values():
        if directory is None:
            rows.append((spec.name, _hub_where(spec), _format_rows(_hub_rows(spec, cache_root))))
        else:
            rows.append((spec.name, str(directory / spec.local_dir), _format_rows(local_row_counts(spec, directory))))
    _echo_table(("dataset", "loads from", "rows"), rows)
    click.echo("\nlm-eval built-in tasks; they run offline where the cache says 'imported' (`t2eval data import`):")
    targets = [(t.label, cache_status(t, cache_root), ", ".join(t.tasks) or "-") for t in cache_targets()]
    _echo_table(("hub dataset [config]", "cache", "tasks"), targets)


def _report(result: ImportResult) -> None:
    """Print one import result."""
    target = result.target
    if result.status == "skipped":
        click.echo(f"skipped     {target.label}: {result.reason}")
        return
    click.echo(f"{result.status:<12}{target.label}  {_format_rows(result.rows)}")
    click.echo(f"            -> {result.path}")
    for old in result.removed:
        click.echo(f"            removed older import {old}")
    if target.tasks:
        click.echo(f"            stock tasks: {', '.join(target.tasks)}")


def _check_outcome(results: list[ImportResult], only: tuple[str, ...]) -> None:
    """Raise click.ClickException when nothing could be imported, or a dataset named in --only was skipped."""
    skipped = {result.target.spec.name for result in results if result.status == "skipped"}
    if only and skipped:
        raise click.ClickException(f"could not import {', '.join(sorted(skipped))}: source files missing (see above)")
    if all(result.status == "skipped" for result in results):
        raise click.ClickException("nothing imported: none of the dataset folders were found in the data directory")


@data.command("import")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--cache-dir", default=None, help=_CACHE_DIR_HELP)
@click.option("--only", multiple=True, type=click.Choice(sorted(DATASETS)),
              help="import only these datasets (repeatable)")
@click.option("--force", is_flag=True, help="rewrite entries even when they are up to date")
def import_command(directory: str | None, cache_dir: str | None, only: tuple[str, ...], force: bool):
    """Write the local files of DIRECTORY into the datasets cache under their hub names, so that
    lm-eval's built-in tasks (arc_easy, arc_challenge, gsm8k, mbpp, hendrycks_math*, minerva_math*,
    *math500, ...) load them with HF_DATASETS_OFFLINE=1. DIRECTORY defaults to $T2EVAL_DATA_DIR.
    Idempotent; each entry is written to a temporary folder and renamed into place."""
    source = resolve_data_dir(directory)
    if source is None:
        raise click.UsageError(f"give DIRECTORY (a folder laid out like ../shared/datasets) or set ${DATA_DIR_ENV}")
    cache_root = datasets_cache_dir(cache_dir)
    click.echo(f"importing {source} into the datasets cache {cache_root}")
    try:
        results = import_stock_tasks(source, cache_dir=cache_root, names=list(only) or None, force=force)
    except DataError as error:
        raise click.ClickException(str(error)) from error
    for result in results:
        _report(result)
    _check_outcome(results, only)
    click.echo(
        "\nRun the stock tasks offline with the same cache, e.g.:\n"
        f"  HF_DATASETS_CACHE={cache_root} HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 "
        "lm_eval --model hf --model_args pretrained=MODEL_DIR --tasks arc_easy"
    )
