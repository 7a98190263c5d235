"""The lm-eval task objects of the current run, with the settings their requests were built with.

lm-eval builds every scored request with ``Task.build_all_requests(system_instruction=...,
apply_chat_template=..., fewshot_as_multiturn=..., chat_template=...)`` on task objects whose
config already holds the run's ``--num_fewshot`` and ``--gen_kwargs``. t2eval's lm-eval hook
(:mod:`t2eval.harness.plugin`) records each (task, settings) here, so that few-shot CEM builds
its fitness requests from the same task object and the same settings as the scored ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestSettings:
    """What ``build_all_requests`` was called with, besides the documents."""

    system_instruction: str | None = None
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = False
    chat_template: object = None  # the LM's apply_chat_template, when used


_TASKS: dict[str, tuple[object, RequestSettings]] = {}


def remember(task, **settings) -> None:
    """Record ``task`` (keyed by its name) and the settings its requests were built with."""
    _TASKS[task.config.task] = (task, RequestSettings(
        system_instruction=settings.get("system_instruction"),
        apply_chat_template=bool(settings.get("apply_chat_template")),
        fewshot_as_multiturn=bool(settings.get("fewshot_as_multiturn")),
        chat_template=settings.get("chat_template")))


def lookup(name: str) -> tuple[object, RequestSettings] | None:
    """The task object called ``name`` of the current run and its settings (None: not seen)."""
    return _TASKS.get(name)


def forget() -> None:
    _TASKS.clear()
