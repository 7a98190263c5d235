"""t2eval's benchmarks: one module per benchmark family, each holding everything about its
tasks (prompt, scorer, reference answers, pass-1 label, data source).

``BENCHMARKS`` maps an lm-eval task name of ``task_configs/`` (``gsm8k_t2``, ``mbpp_t2``, ...)
to its :class:`Benchmark`; the lm-eval task YAMLs call the benchmark's functions through the
thin shim ``task_configs/utils.py`` (``!function utils.gsm8k_prompt``), and the trainer
(:mod:`t2eval.train.data`) looks its rewards, SFT references and labels up here. This package
does not import lm-eval.

Modules: ``gsm8k`` (gsm8k_t2), ``arith`` (arith_t2), ``arc`` (arc_easy_t2, arc_challenge_t2),
``math`` (math, math500), ``mbpp`` (mbpp_t2, mbpp_t2_pass_at_k), ``humaneval`` (humaneval_t2,
humaneval_t2_pass_at_k, humaneval_t2_holdout), ``dispatch`` (dispatch_t2; trained as ``cls``);
``base`` defines :class:`Benchmark`. Shared helpers stay outside: :mod:`t2eval.scoring` (code
extraction, the reference code format, sandbox judging, pass@k) and :mod:`t2eval.math_equiv`.

Adding a benchmark takes one module here and one YAML in ``task_configs/``:

1. ``t2eval/benchmarks/<family>.py`` (every module of this package not starting with ``_`` is
   imported when the package is, so the module registers itself) defines plain functions
   ``<x>_prompt(doc) -> str``, ``<x>_target(doc) -> str``, ``<x>_results(doc, results) -> dict``
   (lm-eval's ``process_results``), a reward ``score_<x>(response, doc) -> 1.0 | 0.0`` and, if it
   is trained with ``--objective sft``, ``<x>_reference(doc) -> str``; builds one
   ``Benchmark(name=<lm-eval task name>, label=<one of t2eval.dispatch.LABELS>,
   dataset=<t2eval.data name or None>, train_split=..., test_split=..., load=<custom_dataset>,
   prompt=..., target=..., results=..., score=..., reference=...)`` per task (``variant(...)``
   for a task on the same documents); and calls ``register(...)`` on them. Heavy imports
   (datasets, the sandbox, math-verify) go inside the functions.
2. ``task_configs/<task>.yaml`` with ``task: <name>`` and ``custom_dataset`` /
   ``doc_to_text`` / ``doc_to_target`` / ``process_results`` as ``!function utils.<function>``,
   plus a re-export of those functions in ``task_configs/utils.py`` (absolute imports:
   ``from t2eval.benchmarks.<family> import ...``). Generation settings (stop strings,
   ``max_gen_toks``) live in the YAML only; the trainer reads them from there.

``tests/test_benchmarks.py`` checks that every task YAML has a registered benchmark whose
functions, dataset and splits are the ones the YAML names.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import yaml

from t2eval.benchmarks.base import BENCHMARKS, Benchmark, load_splits, register, with_prefix

__all__ = ["BENCHMARKS", "Benchmark", "get", "label_of_task", "load_splits", "register", "task_dir", "task_version",
           "task_yaml", "with_prefix"]


def task_dir() -> Path:
    """The folder holding t2eval's lm-eval task YAMLs (the package ``t2eval.task_configs``)."""
    import t2eval.task_configs

    return Path(t2eval.task_configs.__file__).parent


class _YamlLoader(yaml.SafeLoader):
    """Reads lm-eval task YAMLs without importing what ``!function`` names."""


_YamlLoader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


def task_yaml(task: str) -> dict | None:
    """The merged YAML of a task of task_configs/ (``include`` resolved); None: not one of ours."""
    folder = task_dir()
    path = folder / f"{task}.yaml"
    if not path.is_file():
        return None
    config = yaml.load(path.read_text(), Loader=_YamlLoader) or {}
    if "include" in config:
        base = yaml.load((folder / config.pop("include")).read_text(), Loader=_YamlLoader) or {}
        config = {**base, **config}
    return config


def task_version(task: str) -> str | None:
    """``metadata.version`` of a task of task_configs/ as lm-eval records it (None: not ours)."""
    version = ((task_yaml(task) or {}).get("metadata") or {}).get("version")
    return None if version is None else str(version)


def get(task: str) -> Benchmark:
    """The benchmark of lm-eval task ``task`` (UnknownNameError, with the valid names, if none)."""
    return BENCHMARKS.get(task)


def suite_members(suite: str) -> list[str]:
    """The tasks of a suite (``bbh_ll``: its 23 tasks), in registration order; [] when ``suite``
    names no suite."""
    return [name for name in BENCHMARKS if BENCHMARKS.get(name).suite == suite]


def label_of_task(task: str, default: str = "reasoning") -> str:
    """The pass-1 label of any task name: its benchmark's, else that of the trainable benchmark
    whose dataset the name starts with (stock lm-eval ``arc_easy`` -> reasoning, ``gsm8k_cot``
    -> math), else ``default``."""
    if task in BENCHMARKS:
        return BENCHMARKS.get(task).label
    return next((bench.label for bench in (BENCHMARKS.get(n) for n in BENCHMARKS)
                 if bench.train_split and bench.dataset and task.startswith(bench.dataset)), default)


def _import_modules() -> None:
    """Import every benchmark module of this package (each registers its benchmarks)."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


_import_modules()
