"""The one door into lm-eval for the rest of t2eval: the trainer, the report, the gate and the
CLI reach lm-eval's tasks and evaluator only through these functions (imported lazily, where
they are called)."""

from __future__ import annotations

import functools


def load_task(task_name: str):
    """The lm-eval Task object for ``task_name`` (t2eval's folder first, then all tasks)."""
    from lm_eval.tasks import TaskManager

    from ..benchmarks import task_dir

    for manager in (lambda: TaskManager(include_path=str(task_dir()), include_defaults=False), TaskManager):
        tasks = manager()
        if task_name in tasks.all_tasks:
            return tasks.load_task_or_group([task_name])[task_name]
    raise ValueError(f"lm-eval has no task named '{task_name}'")


@functools.lru_cache(maxsize=None)
def lm_eval_task(name: str):
    """The lm-eval task object called ``name`` (None when lm-eval does not know it); loaded
    once per process (indexing lm-eval's tasks takes seconds)."""
    try:
        return load_task(name)
    except ValueError:
        return None


def validation_tasks(names: list[str]) -> tuple[object, list]:
    """(task manager, task objects) for ``names`` with each task's test split switched off, so
    lm-eval scores its validation split: held-out documents for choosing settings and defaults.

    Raises:
        ValueError: a task has no validation split (named, before anything runs).
    """
    from lm_eval.tasks import TaskManager

    from ..benchmarks import task_dir

    manager = TaskManager(include_path=str(task_dir()))
    loaded = manager.load(names)["tasks"]
    missing = [name for name, task in loaded.items() if not task.has_validation_docs()]
    if missing:
        raise ValueError(f"no validation split in {', '.join(missing)}: --split validation needs one "
                         "(score those tasks on their test split in a separate comparison)")
    for task in loaded.values():
        task.config.test_split = None
    return manager, list(loaded.values())


def evaluate(**kwargs) -> dict:
    """lm-eval's ``simple_evaluate`` (same arguments, same results dict)."""
    from lm_eval import simple_evaluate

    return simple_evaluate(**kwargs)


def cli_evaluate() -> None:
    """The stock ``lm_eval`` command line (reads ``sys.argv``)."""
    from lm_eval.__main__ import cli_evaluate as run

    run()
