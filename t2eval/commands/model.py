"""`t2eval model`: where the embedded model lives, converting it on first use."""

from __future__ import annotations

import click

from ..models import DEFAULT_MODEL


@click.group()
def model():
    """Inspect and prepare models (the embedded default and any HF model)."""


@model.command("path")
@click.argument("name", default=DEFAULT_MODEL)
def path_cmd(name):
    """Print a folder/id that any HF tool (HFLM, PEFT, vLLM) can load for NAME.

    For the embedded alias this converts the GGUF once into the cache and prints that folder.
    """
    from ..models import ModelResolutionError, resolve_model_path

    try:
        click.echo(resolve_model_path(name))
    except ModelResolutionError as err:
        raise click.ClickException(str(err)) from err


@model.command("list")
def list_cmd():
    """List embedded model aliases and the cache folder."""
    from ..models import DEFAULT_MODEL, EMBEDDED, cache_root, verify_folder

    click.echo(f"cache: {cache_root()}  (set T2EVAL_CACHE to move it)")
    for alias, spec in EMBEDDED.items():
        ready = verify_folder(cache_root() / "models" / alias)
        default = " (default)" if alias == DEFAULT_MODEL else ""
        click.echo(f"{alias}{default}: from PyPI package {spec.pip_name}; converted: {ready}")
