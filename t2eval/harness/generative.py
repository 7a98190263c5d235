"""A stock lm-eval ``generate_until`` task as the trainer needs it (``t2eval train --task gsm8k``):
prompts rendered as lm-eval renders them, the task's stop strings, rewards from the task's own
filters and metric, and reference answers for ``--objective sft``.

* Prompt: ``task.fewshot_context`` with ``num_fewshot`` shots (lm-eval's ``--num_fewshot``), as
  one user turn of the tokenizer's chat template when ``chat`` (lm-eval's
  ``--apply_chat_template``), the task's ``gen_prefix`` opening the answer.
* Reward of a response: the response goes through the task's filter pipeline named ``filter``
  (lm-eval's ``filter_list``; default: the task's first), then ``task.process_results`` gives
  ``metric`` (default: the task's first); the reward is 1 when the value is >= ``threshold``
  (default: the metric must be 0/1 and 1 means correct), else 0 — the same number
  ``lm_eval`` reports for that document.
* Reference: ``doc_to_target`` (or the document field the user names).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from lm_eval.api.instance import Instance

from ..names import did_you_mean


class GenerativeTaskError(ValueError):
    """The task cannot be trained this way (wrong filter / metric names, non-0/1 metric values)."""


@dataclass(frozen=True)
class Reward:
    """Which of the task's numbers is the reward: ``filter`` then ``metric`` >= ``threshold``."""

    filter: str
    metric: str
    threshold: float | None = None  # None: the metric must be 0/1

    def of(self, value, task_name: str) -> float:
        """1.0 / 0.0 for one document's metric value."""
        if self.threshold is None:
            if value not in (0, 1, True, False):
                raise GenerativeTaskError(
                    f"task {task_name}: metric '{self.metric}' gave {value!r}, not 0/1; set reward_threshold=X "
                    f"(a response whose {self.metric} >= X is correct)")
            return float(value)
        return 1.0 if float(value) >= self.threshold else 0.0


def filter_names(task) -> list[str]:
    """The task's filter pipelines (lm-eval's ``filter_list``; ``none`` when it has none)."""
    return [ensemble.name for ensemble in task._filters]


def metric_names(task) -> list[str]:
    """The task's metrics (``metric_list``), in the YAML's order."""
    return list(task._metric_fn_list)


def reward_of(task, filter: str | None = None, metric: str | None = None,
              threshold: float | None = None) -> Reward:
    """The :class:`Reward` of ``task`` (names checked now, before any model is loaded)."""
    name = task.config.task
    filters, metrics = filter_names(task), metric_names(task)
    if filter is not None and filter not in filters:
        raise GenerativeTaskError(f"reward_filter={filter!r}: task {name} has the filters {', '.join(filters)}."
                                  f"{did_you_mean(filter, filters)}")
    if metric is not None and metric not in metrics:
        raise GenerativeTaskError(f"reward_metric={metric!r}: task {name} reports {', '.join(metrics)}."
                                  f"{did_you_mean(metric, metrics)}")
    if not metrics:
        raise GenerativeTaskError(f"task {name} has no metric to reward")
    return Reward(filter or filters[0], metric or metrics[0], threshold)


def rewards(task, reward: Reward, responses: list[str], docs: list[dict]) -> list[float]:
    """1.0 / 0.0 per (response, document): the task's filter, then its ``process_results``."""
    ensemble = next(e for e in task._filters if e.name == reward.filter)
    instances = []
    for i, (response, doc) in enumerate(zip(responses, docs)):
        inst = Instance("generate_until", doc, ("", {}), 0, metadata=(task.config.task, i, 1))
        inst.resps = [response]
        instances.append(inst)
    ensemble.apply(instances)
    return [reward.of(task.process_results(doc, [inst.filtered_resps[reward.filter]])[reward.metric],
                      task.config.task) for inst, doc in zip(instances, docs)]


def render(task, doc: dict, tokenizer, chat: bool, num_fewshot: int = 0) -> str:
    """The prompt lm-eval sends for ``doc`` (``--num_fewshot num_fewshot``,
    ``--apply_chat_template`` when ``chat``), with the task's ``gen_prefix``."""
    template = partial(_chat, tokenizer) if chat else None
    prefix = task.doc_to_prefix(doc)
    return task.fewshot_context(doc, num_fewshot, apply_chat_template=chat, chat_template=template,
                                gen_prefix=prefix)


def _chat(tokenizer, messages: list[dict], add_generation_prompt: bool = True) -> str:
    """HFLM.apply_chat_template: the chat, with the assistant turn opened or continued."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         continue_final_message=not add_generation_prompt)


def generation(task) -> tuple[list[str], int]:
    """(stop strings, max new tokens) of the task's ``generation_kwargs``."""
    kwargs = task.config.generation_kwargs or {}
    until = kwargs.get("until") or []
    return ([until] if isinstance(until, str) else list(until)), int(kwargs.get("max_gen_toks", 256))


def reference(task, doc: dict, field: str | None = None) -> str:
    """The SFT target of ``doc``: ``doc[field]``, else the task's ``doc_to_target``."""
    if field is not None:
        if field not in doc:
            raise GenerativeTaskError(f"reference_field={field!r}: documents of {task.config.task} have "
                                      f"{', '.join(doc)}.{did_you_mean(field, list(doc))}")
        return str(doc[field])
    target = task.doc_to_target(doc)
    return str(target[0] if isinstance(target, list) else target)
