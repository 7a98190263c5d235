"""Adversarial suite: hostile solutions must be contained or scored as failures.

Every attack is judged with the same MBPP-style task (``add``). Afterwards the
harness must still work, no box process may remain, and the canary file outside
the box must be intact.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from t2eval.sandbox import Limits, MbppJob, check_many, check_mbpp, probe_layers, run_program
from t2eval.sandbox.config import uid_base_from_env
from t2eval.sandbox.uids import POOL_SIZE

TESTS = ["assert add(1, 2) == 3", "assert add(-5, 5) == 0", "assert add(100, 23) == 123"]
GOOD = "def add(a, b):\n    return a + b\n"
LIMITS = Limits(timeout=4.0, memory_mb=256, max_procs=32)
layers = probe_layers()
needs_bwrap = pytest.mark.skipif(not layers.os_isolation, reason=f"bubblewrap does not work here: {layers.notes}")
# kill(-1) from an unisolated box running as our own uid would kill this test run itself
kill_is_contained = pytest.mark.skipif(not (layers.os_isolation or layers.backend.drop_uid),
                                       reason="no PID namespace and no uid drop: kill(-1) would hit us")


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary.txt"
    path.write_text("alive")
    os.chmod(tmp_path, 0o755)
    yield path
    assert path.read_text() == "alive", "the canary outside the box was modified"


def box_processes() -> list[str]:
    """Processes that belong to a box: pooled uid (root mode) or our bootstrap's spec."""
    base, found = uid_base_from_env(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as fh:
                uid = int(next(line for line in fh if line.startswith("Uid:")).split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, StopIteration):
            continue
        if (os.geteuid() == 0 and base <= uid < base + POOL_SIZE) or b'"result_fd"' in cmd or b"t2eval-box-" in cmd:
            found.append(f"{pid} uid={uid} {cmd[:80]!r}")
    return found


def assert_no_strays():
    deadline = time.monotonic() + 3.0
    while box_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert box_processes() == []


def judge(solution: str, **kw):
    return check_mbpp(solution, TESTS, limits=LIMITS, timeout=kw.pop("timeout", LIMITS.timeout), **kw)


CHEATS = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "fork_bomb": ("import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
                  "        except OSError:\n            pass\n"),
    "memory_bomb": "def add(a, b):\n    blocks = []\n    while True:\n        blocks.append(bytearray(10**7))\n",
    "huge_file": "def add(a, b):\n    with open('/tmp/huge', 'wb') as f:\n        f.write(b'x' * (200 * 1024 * 1024))\n    return a + b\n",
    "sys_exit_before_asserts": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n",
    "os_exit_before_asserts": "import os\ndef add(a, b):\n    return 0\nos._exit(0)\n",
    "os_exit_in_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "sys_exit_in_call": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "always_equal": "class E:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\ndef add(a, b):\n    return E()\n",
    "evil_int_subclass": "class I(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return I(0)\n",
    "patch_builtins": ("import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.sorted = lambda *a, **k: [3]\n"
                       "builtins.AssertionError = type('Never', (Exception,), {})\n"
                       "def add(a, b):\n    return -1\n"),
    "excepthook_exit0": ("import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n"
                         "def add(a, b):\n    return -1\n"),
    "forge_pass_marker": ("import os\nprint('ALL TESTS PASSED')\nfor fd in range(3, 256):\n    try:\n"
                          "        for k in range(3):\n            os.write(fd, ('{\"ev\":\"assert\",\"k\":%d,\"v\":[{\"ok\":true}]}\\n' % k).encode())\n"
                          "        os.write(fd, b'{\"ev\":\"done\"}\\n')\n    except OSError:\n        pass\nos._exit(0)\n"),
    "forge_garbage_records": ("import os\ndef add(a, b):\n    for fd in range(3, 64):\n        try:\n"
                              "            os.write(fd, b'{\"ev\":\"assert\",\"k\":0,\"v\":[{\"s\":[[1]]}]}\\n{not json\\n')\n"
                              "        except OSError:\n            pass\n    return a - b\n"),
    "tamper_reporter": ("import sys\ndef add(a, b):\n    g = sys._getframe(1).f_globals\n"
                        "    g['__t2_report'] = lambda *a: None\n    return 0\n"),
    "stack_walk_flip": ("import sys\ndef add(a, b):\n    f = sys._getframe()\n    while f:\n"
                        "        for k in list(f.f_locals):\n            if k.startswith('_'):\n                pass\n"
                        "        f = f.f_back\n    return 'flipped'\n"),
    "read_expected_answers": ("import os, re\ndef add(a, b):\n    text = ''\n    for root, _, files in os.walk('/sandbox'):\n"
                              "        for n in files:\n            text += open(os.path.join(root, n)).read()\n"
                              "    text += open('/proc/self/cmdline').read()\n"
                              "    nums = [int(x) for x in re.findall(r'== *(-?[0-9]+)', text)]\n"
                              "    return nums[0] if nums else 42\n"),
    "stdout_flood": "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('y' * 65536)\n",
    "stderr_flood": "import sys\ndef add(a, b):\n    while True:\n        sys.stderr.write('z' * 65536)\n",
    "fill_scratch": ("import os\ndef add(a, b):\n    i = 0\n    while True:\n        with open('/tmp/fill%d' % i, 'wb') as f:\n"
                     "            f.write(b'x' * 8 * 1024 * 1024)\n        i += 1\n"),
    "recursion_bomb": "def add(a, b):\n    return add(a, b)\n",
}


#: attacks that, without bwrap, would really fill the host's /tmp (a known limit of the weak layer)
HOST_DISK_ATTACKS = {"huge_file", "fill_scratch"}


def test_every_cheat_fails_and_good_solutions_still_pass():
    names = [n for n in CHEATS if layers.os_isolation or n not in HOST_DISK_ATTACKS]
    jobs = [MbppJob(GOOD, TESTS)] + [MbppJob(CHEATS[n], TESTS, timeout=LIMITS.timeout) for n in names] + [MbppJob(GOOD, TESTS)]
    verdicts = check_many(jobs, limits=LIMITS)
    assert verdicts[0].passed and verdicts[-1].passed, (verdicts[0].reason, verdicts[-1].reason)
    passed = {n: v.reason for n, v in zip(names, verdicts[1:-1]) if v.passed}
    assert passed == {}
    by_name = dict(zip(names, verdicts[1:-1]))
    assert by_name["infinite_loop"].status == "timeout"
    assert by_name["memory_bomb"].status == "killed"
    assert by_name["stdout_flood"].status == "killed"
    assert by_name["always_equal"].status == "failed" and "Unserialisable" in by_name["always_equal"].reason
    if layers.os_isolation:
        assert by_name["huge_file"].status == "killed" and "File too large" in by_name["huge_file"].reason
        assert by_name["fill_scratch"].status == "killed" and "No space left" in by_name["fill_scratch"].reason
    assert "malformed" in by_name["forge_garbage_records"].reason
    assert by_name["sys_exit_before_asserts"].status == "crashed"
    assert by_name["os_exit_before_asserts"].status == "crashed"
    assert_no_strays()


@kill_is_contained
def test_harness_survives_attacks_on_the_parent():
    code = ("import os, signal\nfor pid in (os.getppid(), 1, -1, 0):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError:\n        pass\n")
    res = run_program(code, limits=LIMITS)
    assert res.status in ("ok", "crashed", "killed")
    assert os.getpid() > 0 and judge(GOOD).passed
    assert_no_strays()


@needs_bwrap
def test_canary_outside_the_box_survives(canary):
    code = (f"import os, shutil\nfor p in [{str(canary)!r}, {str(canary.parent)!r}]:\n    try:\n"
            "        os.remove(p) if p.endswith('.txt') else shutil.rmtree(p)\n    except OSError as e:\n        print(e)\n"
            f"try:\n    open({str(canary)!r}, 'w').write('dead')\nexcept OSError as e:\n    print(e)\n"
            "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'rm -rf /tmp/* /sandbox/* 2>/dev/null; echo done'])\n")
    res = run_program(code, limits=LIMITS)
    assert res.status == "ok", res.stderr


@needs_bwrap
def test_spawning_a_shell_stays_inside(canary):
    code = ("import subprocess\nprint(subprocess.run(['/bin/sh', '-c', "
            f"'id -u; cat /etc/shadow; echo pwned > {canary}; echo pwned > /usr/pwned; ls /work; echo end'], "
            "capture_output=True, text=True))\n")
    res = run_program(code, limits=LIMITS)
    assert res.status == "ok" and "end" in res.stdout
    assert "root:" not in res.stdout and not os.path.exists("/usr/pwned")
    if os.geteuid() == 0:
        assert "stdout='0\\n" not in res.stdout  # not uid 0 inside


@needs_bwrap
def test_no_network_not_even_host_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        code = (f"import socket\nfor host in ['127.0.0.1', '1.1.1.1']:\n    try:\n"
                f"        socket.create_connection((host, {port}), timeout=2)\n        print('CONNECTED', host)\n"
                "    except OSError as e:\n        print('blocked', host, e.errno)\n"
                "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])\n")
        res = run_program(code, limits=LIMITS)
        server.settimeout(0.2)
        with pytest.raises(OSError):
            server.accept()
    assert "CONNECTED" not in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "['lo']"


def test_secret_env_var_is_not_readable(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-canary-123")
    code = ("import os\ndef add(a, b):\n    blob = str(dict(os.environ))\n    for pid in os.listdir('/proc'):\n"
            "        try:\n            blob += open('/proc/%s/environ' % pid, 'rb').read().decode()\n        except Exception:\n"
            "            pass\n    print(blob)\n    return a + b if 'sk-secret' in blob else -999\n")
    verdict = judge(code)
    assert not verdict.passed
    assert "sk-secret" not in verdict.run.stdout


@needs_bwrap
def test_orphaned_background_process_is_reaped():
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n"
            "    os._exit(0)\ndef add(a, b):\n    return a + b\n")
    verdict = judge(code)
    assert verdict.passed, verdict.reason  # a correct answer still counts
    assert_no_strays()


def test_fork_bomb_does_not_starve_a_parallel_good_run():
    jobs = [MbppJob(CHEATS["fork_bomb"], TESTS, timeout=3.0), MbppJob(GOOD, TESTS, timeout=10.0)]
    bomb, good = check_many(jobs, max_workers=2, limits=LIMITS)
    assert not bomb.passed and good.passed, good.reason
    assert_no_strays()


@needs_bwrap
def test_timed_out_box_leaves_nothing_behind():
    code = "import os, time\nfor _ in range(5):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(60)\ntime.sleep(60)\n"
    res = run_program(code, limits=Limits(timeout=1.0))
    assert res.status == "timeout"
    assert_no_strays()


def test_expected_values_never_enter_the_box():
    dump = ("import os, sys\nblob = ''\nhere = os.path.dirname(sys._getframe().f_code.co_filename)\n"
            "for root, _, files in os.walk(here):\n    for n in files:\n"
            "        blob += open(os.path.join(root, n)).read()\nblob += open('/proc/self/cmdline').read()\n"
            "print(blob)\ndef add(a, b):\n    return a + b\n")
    verdict = check_mbpp(dump, ["assert add(31330, 7) == 31337", "assert add(1, 1) == 2"], limits=LIMITS)
    assert verdict.passed, verdict.reason
    assert "add(31330, 7)" in verdict.run.stdout and "31337" not in verdict.run.stdout


@needs_bwrap
def test_killing_process_group_from_parent_side_is_complete():
    # a box that ignores SIGTERM and spawns children is still gone after its timeout
    code = ("import signal, os, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "for _ in range(3):\n    os.fork()\ntime.sleep(30)\n")
    res = run_program(code, limits=Limits(timeout=1.0))
    assert res.status == "timeout" and res.exit_code == 128 + signal.SIGKILL
    assert_no_strays()


HE_TEST = '''
def check(candidate):
    assert abs(candidate(2.0) - 1.4142135) < 1e-6
    assert candidate(4.0) == 2.0
    for x in range(1, 5):
        assert abs(candidate(x * x) - x) < 1e-9
'''


def test_humaneval_style_cheats_fail_and_real_solution_passes():
    prompt = "def root(x: float) -> float:\n    \"\"\"Square root.\"\"\"\n"
    good = prompt + "    return x ** 0.5\n"
    cheats = {
        "shadow abs": "    return 0.0\nabs = lambda v: 0\n",
        "shadow check helpers": "    return 0.0\nimport builtins\nbuiltins.abs = lambda v: 0\n",
        "exit in candidate": "    import os\n    os._exit(0)\n",
        "equal-to-anything float subclass": ("    class F(float):\n        def __eq__(s, o):\n            return True\n"
                                             "        def __sub__(s, o):\n            return 0.0\n    return F(0)\n"),
    }
    good_verdict = check_mbpp_he(good)
    assert good_verdict.passed, good_verdict.reason
    assert good_verdict.asserts_checked == 6
    for name, body in cheats.items():
        verdict = check_mbpp_he(prompt + body)
        assert not verdict.passed, name


def check_mbpp_he(program: str):
    from t2eval.sandbox import check_humaneval

    return check_humaneval(program, HE_TEST, "root", timeout=5.0)


@needs_bwrap
def test_box_dies_with_a_killed_parent(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text("from t2eval.sandbox import run_program, Limits\n"
                      "print('started', flush=True)\n"
                      "run_program('import os, time\\nos.fork()\\ntime.sleep(60)', limits=Limits(timeout=60))\n")
    env = dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
               TMPDIR=str(tmp_path))  # the killed parent cannot remove its job folder: keep it in tmp_path
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    assert parent.stdout.readline().strip() == b"started"
    deadline = time.monotonic() + 10
    while not box_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert box_processes(), "the box never started"
    parent.kill()
    parent.wait()
    assert_no_strays()


def test_a_value_too_large_to_print_is_a_failed_assert_not_a_judging_error():
    # a model's rollout returned an int of > 4300 digits: repr() raises in the parent, which once
    # turned the verdict into "error" and stopped a training run (SandboxFailure)
    huge = "def add(a, b):\n    return 10 ** 5000\n"
    verdicts = check_many([MbppJob(huge, TESTS[:1]), MbppJob("def add(a, b):\n    return [10 ** 5000]\n", TESTS[:1])],
                          limits=LIMITS)
    assert [(v.passed, v.status) for v in verdicts] == [(False, "failed")] * 2
    assert "int that cannot be shown" in verdicts[0].reason and "list that cannot be shown" in verdicts[1].reason
    assert check_mbpp(huge, ["assert add(1, 2) == 10 ** 5000"], limits=LIMITS).passed
