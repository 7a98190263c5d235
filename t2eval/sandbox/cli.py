"""``t2eval sandbox``: check this machine's sandbox, or run one file in it.

Exit statuses of ``t2eval sandbox run``: the program's own status; 124 when it timed
out; 137 when it was killed for resources (memory, CPU, file size, output flood);
125 when the sandbox itself could not run (or strict mode refused).
"""

from __future__ import annotations

import json
import sys

import click

from .config import Limits

EXIT_TIMEOUT = 124
EXIT_SANDBOX_ERROR = 125
EXIT_KILLED = 137


@click.group()
def sandbox():
    """Run untrusted Python in the sandbox (bubblewrap + rlimits)."""


def _exit_status(result) -> int:
    if result.status == "timeout":
        return EXIT_TIMEOUT
    if result.status == "killed":
        return EXIT_KILLED
    if result.status == "error":
        return EXIT_SANDBOX_ERROR
    return int(result.exit_code or 0)


def _relay(result) -> None:
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    for name in ("stdout", "stderr"):
        if getattr(result, f"{name}_truncated"):
            sys.stderr.write(f"\n[t2eval sandbox: {name} truncated at the {Limits().output_bytes // 1024} KiB output cap]\n")
    if result.status != "ok":
        sys.stderr.write(f"[t2eval sandbox: {result.status}: {result.reason}]\n")


@sandbox.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("args", nargs=-1)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Wall-clock seconds (> 0).")
@click.option("--memory", type=click.IntRange(min=1), default=1024, show_default=True, help="Address-space limit in MiB.")
@click.option("--json", "as_json", is_flag=True, help="Print the structured result instead of the output.")
@click.option("--strict/--no-strict", default=None, help="Refuse to run without OS isolation "
              "(default: T2EVAL_SANDBOX_STRICT).")
def run_cmd(file, args, timeout, memory, as_json, strict):
    """Run FILE like `python FILE` would, inside the sandbox.

    A copy of FILE's folder is the working directory (/sandbox/work, read-only);
    /tmp is a small writable scratch space; there is no network. The first 64 KiB of stdout
    and of stderr are kept (a note on stderr says when output was cut).
    """
    from .probe import SandboxUnavailable
    from .program import run_file

    try:
        result = run_file(file, args=list(args), limits=Limits(timeout=timeout, memory_mb=memory), strict=strict)
    except (SandboxUnavailable, ValueError) as exc:
        click.echo(f"t2eval sandbox: {exc}", err=True)
        sys.exit(EXIT_SANDBOX_ERROR)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _relay(result)
    sys.exit(_exit_status(result))


@sandbox.command("selftest")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def selftest_cmd(as_json):
    """Show which isolation layers work here and run a small attack suite."""
    from .probe import probe_layers
    from .selftest import run_selftest

    layers = probe_layers()
    checks = run_selftest()
    failed = [c for c in checks if not c.ok]
    if as_json:
        click.echo(json.dumps({"layers": layers.label, "notes": list(layers.notes),
                               "checks": [c.__dict__ for c in checks]}, indent=2))
    else:
        click.echo(f"sandbox layers: {layers.label}")
        for line in layers.describe():
            click.echo(f"  {line}")
        if not layers.os_isolation:
            click.echo("  WARNING: only resource limits protect this machine (see notes above)", err=True)
        for check in checks:
            click.echo(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        click.echo(f"selftest: {len(checks) - len(failed)} of {len(checks)} checks contained")
    sys.exit(1 if failed else 0)
