"""A small attack suite that shows what the sandbox contains on this machine.

Each check runs hostile code through the public API and says whether it was contained.
Used by ``t2eval sandbox selftest``; the full adversarial suite is in ``tests/``.
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from typing import Callable

from .config import Limits
from .judge import check_mbpp
from .pool import MbppJob, check_many
from .program import run_program

TESTS = ["assert add(1, 2) == 3", "assert add(-4, 4) == 0", "assert add(10, 5) == 15"]
GOOD = "def add(a, b):\n    return a + b\n"
SECRET = "t2eval-selftest-secret-4f1c"
_FAST = Limits(timeout=3.0, memory_mb=256)

#: name -> solution source; each must NOT pass the TESTS above.
CHEATS = {
    "infinite loop": "def add(a, b):\n    while True:\n        pass\n",
    "fork bomb": "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
    "memory bomb": "def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(10**7))\n",
    "sys.exit(0) before asserts": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n",
    "os._exit(0) in the tested call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "always-equal object": "class E:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return E()\n",
    "patched builtins": ("import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\n"
                        "builtins.abs = lambda x: 0\ndef add(a, b):\n    return None\n"),
    "forged pass marker": ("import os, json\nfor fd in range(3, 64):\n    try:\n"
                           "        os.write(fd, b'{\"ev\":\"done\"}\\n')\n    except OSError:\n        pass\n"
                           "print('PASSED')\nos._exit(0)\n"),
    "stdout flood": "import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('x' * 65536)\n",
}


@dataclass
class Check:
    """One selftest line: ``ok`` True when the attack was contained."""

    name: str
    ok: bool
    detail: str


def _cheats() -> list[Check]:
    jobs = [MbppJob(GOOD, TESTS, timeout=5.0)] + [MbppJob(src, TESTS, timeout=3.0) for src in CHEATS.values()]
    verdicts = check_many(jobs, limits=_FAST)
    checks = [Check("correct solution passes", verdicts[0].passed, verdicts[0].reason)]
    for name, verdict in zip(CHEATS, verdicts[1:]):
        checks.append(Check(f"{name} is not a pass", not verdict.passed, f"{verdict.status}: {verdict.reason}"[:160]))
    return checks


def _network() -> Check:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "    print('CONNECTED')\nexcept OSError as e:\n    print('refused', e)\n"
                "print(open('/proc/net/dev').read())\n")
        res = run_program(code, limits=_FAST)
    out = res.stdout
    contained = "CONNECTED" not in out and "eth" not in out and "ens" not in out
    return Check("no network (host loopback unreachable)", contained, out.splitlines()[0] if out else res.reason)


def _secrets_and_files() -> list[Check]:
    with tempfile.TemporaryDirectory() as outside:
        canary = os.path.join(outside, "canary.txt")
        with open(canary, "w") as fh:
            fh.write(SECRET)
        os.environ["T2EVAL_SELFTEST_SECRET"] = SECRET
        try:
            code = (f"import os, shutil\nprint(dict(os.environ))\n"
                    f"for p in ['/proc/1/environ', '/proc/self/environ', {canary!r}]:\n"
                    "    try:\n        print(open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n"
                    f"shutil.rmtree({outside!r}, ignore_errors=True)\n"
                    f"try:\n    os.remove({canary!r})\nexcept OSError as e:\n    print(e)\n")
            res = run_program(code, limits=_FAST)
        finally:
            os.environ.pop("T2EVAL_SELFTEST_SECRET", None)
        survived = os.path.exists(canary)
    return [Check("secret env var not visible", SECRET not in res.stdout and res.status == "ok", res.reason),
            Check("canary outside the box survives", survived, "present" if survived else "DELETED")]


def _kill_parent() -> Check:
    from .probe import probe_layers

    layers = probe_layers()
    if not (layers.os_isolation or layers.backend.drop_uid):
        return Check("killing the parent is contained", False,
                     "not tried: without a PID namespace or uid drop, kill(-1) would kill your processes")
    code = "import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
    res = run_program(code, limits=_FAST)
    alive = check_mbpp(GOOD, TESTS, timeout=5.0).passed
    return Check("killing the parent does not stop the harness", alive, res.reason)


SUITE: list[Callable[[], Check | list[Check]]] = [_cheats, _network, _secrets_and_files, _kill_parent]


def run_selftest() -> list[Check]:
    """Run every check; returns them in order (never raises for a failed check)."""
    checks: list[Check] = []
    for item in SUITE:
        found = item()
        checks.extend(found if isinstance(found, list) else [found])
    return checks
