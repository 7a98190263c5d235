"""The `t2eval` command line. Subcommands are imported lazily so `t2eval --help`
stays fast (no torch import)."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command or group
_COMMANDS = {
    "demo": "t2eval.commands.demo:demo",
    "eval": "t2eval.commands.eval:eval",
    "params": "t2eval.commands.params:params",
    "data": "t2eval.commands.data:data",
    "model": "t2eval.commands.model:model",
    "sandbox": "t2eval.sandbox.cli:sandbox",
    "train": "t2eval.commands.train:train",
    "baseline": "t2eval.commands.baseline:baseline",
    "report": "t2eval.commands.report:report",
    "check": "t2eval.commands.check:check",
    "compare": "t2eval.commands.compare:compare",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup)
@click.version_option(package_name="t2eval")
def main():
    """t2eval: self-adaptive LLMs (Transformer-Squared) for lm-evaluation-harness."""
    _show_library_logs()


def _show_library_logs() -> None:
    """t2eval's library code logs (``logging.getLogger("t2eval....")``); the command line shows
    its INFO messages on stderr as ``[t2eval.module] message``."""
    import logging

    logger = logging.getLogger("t2eval")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


if __name__ == "__main__":
    main()
