"""`t2eval eval ...`: the stock lm-eval CLI, with `--model t2` unless another is given."""

from __future__ import annotations

import sys

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.argument("lm_eval_args", nargs=-1, type=click.UNPROCESSED)
def eval(lm_eval_args):  # noqa: A001  (the command is called eval)
    """Run lm-eval (same flags as `lm_eval`), defaulting to --model t2.

    Example: t2eval eval --tasks arc_challenge_t2 --limit 20 --apply_chat_template
    """
    from lm_eval.__main__ import cli_evaluate

    args = list(lm_eval_args)
    if not any(a == "--model" or a.startswith("--model=") for a in args) and "-h" not in args \
            and "--help" not in args:
        args = ["--model", "t2", *args]
    sys.argv = ["lm_eval", *args]
    cli_evaluate()
