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
    args = list(lm_eval_args)
    if "-h" in args or "--help" in args:
        click.echo(help_text())
        return
    from ..harness.tasks import cli_evaluate

    if not any(a == "--model" or a.startswith("--model=") for a in args):
        args = ["--model", "t2", *args]
    sys.argv = ["lm_eval", *args]
    cli_evaluate()


def help_text() -> str:
    """t2eval's own usage, the t2 model arguments (generated from T2Args) and where lm-eval's flags are."""
    from ..harness.args import help_table

    return ("Usage: t2eval eval [LM_EVAL FLAGS...]\n\n"
            "Runs lm-eval with --model t2 unless --model is given; every other flag is lm-eval's\n"
            "(`lm_eval run --help` lists them). Example:\n"
            "  t2eval eval --tasks arc_challenge_t2 --limit 20 --apply_chat_template\n"
            "  t2eval eval --tasks t2_unseen --apply_chat_template --confirm_run_unsafe_code\n\n"
            "--model_args of t2 (k=v,k=v; anything else goes to HFLM):\n" + help_table())
