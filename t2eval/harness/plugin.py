"""Make ``lm_eval --model t2`` and t2eval's tasks visible to the stock lm-eval CLI.

lm-eval 0.4.13 reads no plugin entry points. t2eval therefore installs a one-line ``.pth``
file (``t2eval-lm-eval.pth``, see setup.py) that calls :func:`install` at interpreter
start (importing this module imports nothing of lm-eval, nor the model class). ``install`` only puts a finder on ``sys.meta_path``; the finder does nothing until
lm-eval's registry or task manager module is imported, and then, right after that module
has run,

* registers the model name ``t2`` as a lazy placeholder (``"t2eval.harness:T2LM"`` —
  nothing is imported until ``--model t2`` is actually used), and
* adds t2eval's task folder to the paths ``TaskManager`` indexes by default (after the
  built-in folder; t2eval's task names never collide with built-in ones), and
* remembers each task object and the settings its requests were built with
  (:mod:`t2eval.harness.run_tasks`: few-shot CEM builds its fitness requests the same way), and
* with ``--output_path``, writes every document's pass-1 decision of a ``--model t2`` run
  as JSON Lines (``t2_decisions_<date>.jsonl``) beside lm-eval's results file.

A Python process that never imports lm-eval pays for one small import. Set
``T2EVAL_NO_LM_EVAL_PLUGIN=1`` to disable the hook.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
from pathlib import Path

MODEL_NAME = "t2"
MODEL_TARGET = "t2eval.harness:T2LM"


def task_dir() -> Path:
    """The folder holding t2eval's lm-eval task YAMLs (:func:`t2eval.benchmarks.task_dir`)."""
    from ..benchmarks import task_dir as folder

    return folder()


def register_model(registry_module) -> None:
    """Register ``t2`` lazily in lm-eval's model registry (idempotent).

    lm-eval fills its registry with the built-in models only when it finds it empty, so
    those (lazy name strings, no heavy imports) are registered first.
    """
    import lm_eval.models  # noqa: F401  (registers hf, vllm, ... as placeholders)

    registry = registry_module.model_registry
    if MODEL_NAME not in registry:
        registry.register(MODEL_NAME, target=MODEL_TARGET)


def _wrap_method(cls, name: str, make) -> None:
    """Replace ``cls.<name>`` by ``make(original)`` once (idempotent: the wrapper is marked)."""
    original = getattr(cls, name)
    if getattr(original, "_t2eval", False):
        return
    wrapper = make(original)
    wrapper._t2eval = True
    wrapper.__doc__ = original.__doc__
    setattr(cls, name, wrapper)


def patch_task_manager(manager_module) -> None:
    """Make ``TaskManager(include_defaults=True)`` also index t2eval's task folder."""

    def make(original):
        def __init__(self, verbosity=None, include_path=None, include_defaults=True, *args, **kwargs):
            if include_defaults:
                paths = list(include_path) if isinstance(include_path, (list, tuple)) else (
                    [include_path] if include_path else [])
                include_path = [str(task_dir()), *paths]  # user paths last: they still take precedence
            original(self, verbosity, include_path, include_defaults, *args, **kwargs)

        return __init__

    _wrap_method(manager_module.TaskManager, "__init__", make)


def decision_lines(results: dict) -> list[dict]:
    """One record per document of a t2 run's pass-1 decisions (empty for other models)."""
    details = ((results or {}).get("config") or {}).get("t2", {}).get("pass1_details") or {}
    return [{"task": task, "doc_id": doc_id, **record}
            for task, docs in details.items() for doc_id, record in docs.items()]


def patch_evaluation_tracker(tracker_module) -> None:
    """After lm-eval saves a results file, save the t2 decisions beside it."""

    def make(original):
        def save_results_aggregated(self, results, *args, **kwargs):
            out = original(self, results, *args, **kwargs)
            lines = decision_lines(results)
            if lines and self.output_path and getattr(self, "date_id", None):
                import json

                from ..atomic import atomic_write_text

                path = Path(self.output_path)
                if path.suffix == ".json":
                    target = path.with_name(f"{path.stem}_t2_decisions_{self.date_id}.jsonl")
                else:
                    target = (path / str(self.general_config_tracker.model_name_sanitized)
                              / f"t2_decisions_{self.date_id}.jsonl")
                atomic_write_text(target, "".join(json.dumps(line) + "\n" for line in lines))
                logging.getLogger("lm_eval.t2").info("pass-1 decisions of %d documents: %s", len(lines), target)
            return out

        return save_results_aggregated

    _wrap_method(tracker_module.EvaluationTracker, "save_results_aggregated", make)


def patch_task_requests(task_module) -> None:
    """Record (task, settings) whenever lm-eval builds a task's scored requests."""

    def make(original):
        def build_all_requests(self, *args, **kwargs):
            from . import run_tasks

            run_tasks.remember(self, **kwargs)
            return original(self, *args, **kwargs)

        return build_all_requests

    _wrap_method(task_module.Task, "build_all_requests", make)


_AFTER_IMPORT = {
    "lm_eval.api.task": patch_task_requests,
    "lm_eval.api.registry": register_model,
    "lm_eval.tasks.manager": patch_task_manager,
    "lm_eval.loggers.evaluation_tracker": patch_evaluation_tracker,
}


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then the t2eval hook for that module."""

    def __init__(self, inner, hook):
        self._inner, self._hook = inner, hook

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        try:
            self._hook(module)
        except Exception as err:  # never break lm-eval itself
            logging.getLogger("t2eval").error("lm-eval plugin hook failed for %s: %s", module.__name__, err)

    def __getattr__(self, name):  # get_source, get_filename, ... for inspect/linecache
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the lm-eval modules t2eval hooks into."""

    def find_spec(self, fullname, path, target=None):
        hook = _AFTER_IMPORT.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, hook)
                return spec
        return None


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once); hook modules already imported."""
    if os.environ.get("T2EVAL_NO_LM_EVAL_PLUGIN") or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
    for name, hook in _AFTER_IMPORT.items():
        if name in sys.modules:
            hook(sys.modules[name])
