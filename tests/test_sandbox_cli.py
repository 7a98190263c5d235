"""The `t2eval sandbox` command line: run (exit statuses, --json) and selftest."""

from __future__ import annotations

import json

from click.testing import CliRunner

from t2eval.sandbox.cli import sandbox


def run_cli(*args):
    return CliRunner().invoke(sandbox, list(args), catch_exceptions=False)


def test_run_relays_output_and_exit_status(tmp_path):
    (tmp_path / "data.txt").write_text("payload")
    script = tmp_path / "prog.py"
    script.write_text("import sys\nprint(open('data.txt').read(), sys.argv[1:])\nsys.exit(3)\n")
    result = run_cli("run", str(script), "a1")
    assert result.exit_code == 3
    assert "payload ['a1']" in result.output


def test_run_timeout_is_124_and_resources_137(tmp_path):
    loop = tmp_path / "loop.py"
    loop.write_text("while True:\n    pass\n")
    assert run_cli("run", "--timeout", "1", str(loop)).exit_code == 124
    hog = tmp_path / "hog.py"
    hog.write_text("x = bytearray(400 * 1024 * 1024)\n")
    assert run_cli("run", "--memory", "128", str(hog)).exit_code == 137


def test_run_json(tmp_path):
    script = tmp_path / "ok.py"
    script.write_text("print('hi')\n")
    result = run_cli("run", "--json", str(script))
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["status"] == "ok" and data["stdout"] == "hi\n"


def test_selftest_reports_layers_and_checks():
    from t2eval.sandbox import probe_layers

    result = run_cli("selftest")
    assert "sandbox layers:" in result.output and "checks contained" in result.output
    if probe_layers().os_isolation:
        assert result.exit_code == 0, result.output
        assert "[FAIL]" not in result.output
    else:  # the weak layer cannot contain everything, and says so
        assert result.exit_code == 1 and "[FAIL]" in result.output


def test_run_refuses_a_timeout_of_zero_or_less_and_states_the_output_cap(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text("print('x' * 70000)\n")
    for bad in ("0", "-1"):
        result = run_cli("run", "--timeout", bad, str(script))
        assert result.exit_code == 2 and "--timeout" in result.output  # a usage error, nothing ran
    result = CliRunner().invoke(sandbox, ["run", str(script)], catch_exceptions=False)
    assert result.exit_code == 0 and "truncated at the 64 KiB output cap" in result.output
