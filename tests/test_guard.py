"""The base-weights guard (guard=true): an expert answers a task only when it scores at least the
base weights on held-out documents of that task; judged once per (task, expert)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from t2eval.harness import guard as guard_module
from t2eval.harness.guard import BaseGuard

# held-out score per (task, installed weights): the expert helps on "good", hurts on "bad"
SCORES = {("good", None): 0.4, ("good", "reasoning"): 0.6, ("bad", None): 0.5, ("bad", "reasoning"): 0.3,
          ("tie", None): 0.5, ("tie", "reasoning"): 0.5}


class FakeHeldOut:
    built: Counter = Counter()

    def __init__(self, task):
        self.task, self.docs, self.split = task, [{}] * 20, "validation"

    @classmethod
    def build(cls, task, k, seed, settings):
        cls.built[task] += 1
        return cls(task)

    def score(self, run, token_count):
        return SCORES[(self.task, run.installed[0])], 0.0


@pytest.fixture
def guard(monkeypatch):
    monkeypatch.setattr(guard_module, "FewShotSet", FakeHeldOut)
    FakeHeldOut.built = Counter()
    installed = [None]

    @contextmanager
    def applied(expert):
        installed[0] = expert
        try:
            yield
        finally:
            installed[0] = None

    run = SimpleNamespace(installed=installed)
    return BaseGuard(shots=20, seed=0, applied=applied, expert_of=lambda key: key,
                     task_of=lambda task, reqs: (task, None), run_plain=run, token_count=len, seconds=Counter())


def _requests(tasks):
    return [SimpleNamespace(task_name=t, doc_id=i) for i, t in enumerate(tasks)]


def test_expert_kept_where_it_helps_or_ties_and_replaced_by_base_where_it_hurts(guard):
    reqs = _requests(["good", "bad", "tie", "good", "bad"])
    keys = guard(reqs, ["reasoning", "reasoning", "reasoning", "base", "reasoning"])
    assert keys == ["reasoning", "base", "reasoning", "base", "base"]
    info = guard.info()
    assert info["bad"]["reasoning"] == {"kept": False, "base": 0.5, "expert": 0.3, "shots": 20, "split": "validation"}
    assert info["good"]["reasoning"]["kept"] and info["tie"]["reasoning"]["kept"]
    assert guard.seconds["guard"] > 0


def test_each_task_is_judged_once(guard):
    reqs = _requests(["good", "bad"])
    guard(reqs, ["reasoning", "reasoning"])
    assert guard(reqs, ["reasoning", "reasoning"]) == ["reasoning", "base"]
    assert FakeHeldOut.built == Counter({"good": 1, "bad": 1})  # held-out documents built once per task


def test_base_only_plans_cost_nothing(guard):
    assert guard(_requests(["bad", "bad"]), ["base", "base"]) == ["base", "base"]
    assert not FakeHeldOut.built and guard.info() == {}
