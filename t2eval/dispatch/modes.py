"""How pass 1 turns questions into labels: small classes registered by name.

* ``score`` (default): every label's summed log-probability as the continuation of the
  classification prompt with the assistant turn opened by ``Classification: \\boxed{``;
  the best label wins. One forward per document (the shared instruction prefix once).
* ``calibrated``: ``score`` minus each label's prior under the prompt, measured on
  content-free questions (Zhao et al. 2021, "Calibrate before use"): a label the prompt
  favours whatever the question (``reasoning``) stops winning by default, and one it
  disfavours (``others``) can win. No fitted parameter: the content-free questions are fixed.
* ``generate``: the paper's generated classification, parsed by :func:`parse_label`.

Both need only a :class:`Pass1Runner` (how to render a chat, encode text, the model, and
how to generate), so the backend, the trainer and the benchmarks use the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ..registry import Registry
from .prompt import ANSWER_PREFIX, LABEL_END, LABELS, PASS1_GEN, parse_label, pass1_messages
from .scorer import continuation_logprobs


@dataclass
class Decision:
    """One document's pass-1 outcome: the label, and what it was decided from."""

    label: str
    scores: dict[str, float] | None = None  # score mode: summed log-probability per label
    response: str | None = None  # generate mode: the generated text

    def record(self) -> dict:
        out = {"label": self.label}
        if self.scores is not None:
            out["scores"] = {k: round(v, 4) for k, v in self.scores.items()}
        if self.response is not None:
            out["response"] = self.response
        return out


@dataclass
class Pass1Runner:
    """What a pass-1 mode needs from the model it runs on."""

    render: Callable[[list[dict]], str]  # chat messages -> text with the assistant turn open
    encode: Callable[[str], list[int]]  # text -> token ids, as the model's requests are encoded
    model: object = None  # the causal LM (score mode)
    generate: Callable[[list[str], dict], list[str]] | None = None  # (prompts, gen_kwargs) -> texts
    batch_size: int = 8
    pad_id: int = 0
    progress: bool = True


class Pass1Mode:
    """Base class: ``decide(runner, questions, layout)`` -> one Decision per question."""

    name: ClassVar[str]

    def prompts(self, runner: Pass1Runner, questions: list[str], layout: str) -> list[str]:
        return [runner.render(pass1_messages(q, layout)) for q in questions]

    def decide(self, runner: Pass1Runner, questions: list[str], layout: str,
               title: str = "pass 1") -> list[Decision]:
        raise NotImplementedError

    def fingerprint(self) -> dict:
        return {"mode": self.name}


MODES: Registry[type[Pass1Mode]] = Registry("dispatch mode")
register = MODES.register()


def get_mode(name: str) -> Pass1Mode:
    """The registered mode called ``name``; unknown names list the modes."""
    return MODES.get(name)()


@register
class ScoreMode(Pass1Mode):
    name = "score"

    def prompts(self, runner, questions, layout):
        return [text + ANSWER_PREFIX for text in super().prompts(runner, questions, layout)]

    def decide(self, runner, questions, layout, title="pass 1"):
        texts = self.prompts(runner, questions, layout)
        ids = [runner.encode(t) for t in texts]
        conts = [[_continuation(runner.encode, t, p, label + LABEL_END) for label in LABELS]
                 for t, p in zip(texts, ids)]
        scores = continuation_logprobs(runner.model, ids, conts, batch_size=runner.batch_size,
                                       pad_id=runner.pad_id,
                                       progress=f"{title} (score {len(LABELS)} labels)" if runner.progress else None)
        out = []
        for row in scores:
            by_label = dict(zip(LABELS, row))
            out.append(Decision(max(by_label, key=by_label.get), scores=by_label))
        return out

    def fingerprint(self):
        return {"mode": self.name, "answer_prefix": ANSWER_PREFIX, "labels": [l + LABEL_END for l in LABELS]}


#: the content-free questions of ``calibrated`` (Zhao et al. 2021 use "N/A", "" and "[MASK]")
CONTENT_FREE = ("N/A", "", "[MASK]")


def _log_normalised(scores: dict[str, float]) -> dict[str, float]:
    """Log-probabilities renormalised over the labels."""
    top = max(scores.values())
    total = top + math.log(sum(math.exp(v - top) for v in scores.values()))
    return {k: v - total for k, v in scores.items()}


@register
class CalibratedScoreMode(ScoreMode):
    name = "calibrated"

    def decide(self, runner, questions, layout, title="pass 1"):
        raw = super().decide(runner, list(CONTENT_FREE) + list(questions), layout, title)
        free = [_log_normalised(d.scores) for d in raw[:len(CONTENT_FREE)]]
        prior = {k: math.log(sum(math.exp(f[k]) for f in free) / len(free)) for k in LABELS}
        out = []
        for d in raw[len(CONTENT_FREE):]:
            scores = {k: v - prior[k] for k, v in _log_normalised(d.scores).items()}
            out.append(Decision(max(scores, key=scores.get), scores=scores))
        return out

    def fingerprint(self):
        return {**super().fingerprint(), "mode": self.name, "content_free": list(CONTENT_FREE)}


@register
class GenerateMode(Pass1Mode):
    name = "generate"

    def decide(self, runner, questions, layout, title="pass 1"):
        if runner.generate is None:
            raise ValueError("dispatch=generate needs a runner that generates")
        responses = runner.generate(self.prompts(runner, questions, layout), dict(PASS1_GEN))
        return [Decision(parse_label(r), response=r) for r in responses]

    def fingerprint(self):
        return {"mode": self.name, "generation": PASS1_GEN}


def _continuation(encode, context: str, context_ids: list[int], continuation: str) -> list[int]:
    """The continuation's tokens as lm-eval splits them: encode(context + cont) past the context."""
    whole = encode(context + continuation)
    return whole[len(context_ids):] if whole[:len(context_ids)] == context_ids else encode(continuation)


@dataclass
class Classifier:
    """Pass 1 for one runner: a mode and a layout."""

    runner: Pass1Runner
    mode: Pass1Mode = field(default_factory=ScoreMode)
    layout: str = "user"

    def classify(self, questions: list[str], title: str = "pass 1") -> list[Decision]:
        return self.mode.decide(self.runner, questions, self.layout, title) if questions else []

    def fingerprint(self) -> dict:
        return {**self.mode.fingerprint(), "layout": self.layout}
