"""``lm_eval --model t2``: HFLM with SVF experts chosen per request (two-pass inference).

Every request method runs: plan (pass 1) -> group requests by chosen expert -> install
that expert once -> run HFLM on the group -> restore the original order. All requests of
one document (e.g. the choices of a multiple-choice question) share one plan.
"""

from __future__ import annotations

import logging
from collections import Counter

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from ..models import DEFAULT_MODEL, model_slug, resolve_model_path
from ..svf import SVFAdapter, decompose, mix_experts
from .dispatch import classification_prompt, parse_label, question_of
from .library import ExpertLibrary, default_experts_dir

log = logging.getLogger(__name__)

STRATEGIES = ("none", "prompt", "cls", "uniform")
BASE = "base"
PASS1_GEN = {"until": ["\n\n\n"], "max_gen_toks": 48, "do_sample": False}


class T2LM(HFLM):
    """Transformer-Squared backend. Model args (all optional):

    pretrained  model alias / hub id / folder (default: the embedded SmolLM2-135M-Instruct)
    experts     folder of expert files (default: experts/<model-slug>/ when present)
    strategy    none | prompt | cls | uniform | <expert name>
                (default: prompt when experts exist, else none)
    """

    def __init__(self, pretrained: str = DEFAULT_MODEL, experts: str | None = None,
                 strategy: str | None = None, **kwargs):
        super().__init__(pretrained=resolve_model_path(pretrained), **kwargs)
        self.base_name = pretrained
        self.library = ExpertLibrary.from_folder(experts or default_experts_dir(model_slug(pretrained)))
        self.strategy = strategy or ("prompt" if self.library.by_label else "none")
        self._check_strategy()
        self.adapter = self._make_adapter()
        self.swaps = 0  # expert installs, for tests and provenance
        self.pass1_labels: dict[str, Counter] = {}

    # ------------------------------------------------------------------ setup
    def _check_strategy(self) -> None:
        if self.strategy in ("none",) or self.strategy in self.library.experts:
            return
        if self.strategy not in STRATEGIES:
            self.library.get(self.strategy)  # raises "unknown expert ... did you mean"
        if not self.library.by_label:
            raise ValueError(f"strategy '{self.strategy}' needs labelled experts, but "
                             f"{self.library.folder or 'no experts folder'} has none; pass "
                             "experts=<folder> or strategy=none")
        if self.strategy == "cls" and "cls" not in self.library.experts:
            raise ValueError(f"strategy 'cls' needs an expert named 'cls' in {self.library.folder}")

    def _make_adapter(self) -> SVFAdapter | None:
        if self.strategy == "none":
            return None
        dec = decompose(self.model, self.library.targets or "mlp")
        return SVFAdapter(self.model, dec)

    def _expert_for(self, key: str):
        if key == BASE:
            return None
        if key == "uniform":
            experts = list(self.library.by_label.values())
            return mix_experts(experts, [1 / len(experts)] * len(experts), name="uniform")
        return self.library.by_label.get(key) or self.library.get(key)

    # ------------------------------------------------------------------ pass 1
    def _plan(self, requests: list[Instance]) -> list[str]:
        """One expert key per request; requests of one document share it."""
        docs = {}
        for req in requests:
            docs.setdefault((req.task_name, req.doc_id), req)
        if self.strategy in ("prompt", "cls"):
            keys = self._classify(list(docs.values()))
        else:
            key = BASE if self.strategy == "none" else self.strategy
            keys = [key] * len(docs)
        by_doc = dict(zip(docs, keys))
        return [by_doc[(req.task_name, req.doc_id)] for req in requests]

    def _classify(self, reqs: list[Instance]) -> list[str]:
        """Ask the model (base weights, or the cls expert) to label each document."""
        prompts = [self.apply_chat_template([{"role": "user", "content": classification_prompt(
            question_of(r.doc, r.args[0]))}]) for r in reqs]
        pass1 = [Instance("generate_until", {}, (p, dict(PASS1_GEN)), i) for i, p in enumerate(prompts)]
        expert = self.library.get("cls") if self.strategy == "cls" else None
        with self.adapter.applied(expert):
            responses = HFLM.generate_until(self, pass1, disable_tqdm=True)
        labels = [parse_label(text) for text in responses]
        for req, label in zip(reqs, labels):
            self.pass1_labels.setdefault(req.task_name or "?", Counter())[label] += 1
        return [label if label in self.library.by_label else BASE for label in labels]

    # ------------------------------------------------------------------ pass 2
    def _run(self, requests: list[Instance], method, disable_tqdm: bool) -> list:
        if self.adapter is None:
            return method(requests, disable_tqdm=disable_tqdm)
        keys = self._plan(requests)
        results = [None] * len(requests)
        for key in dict.fromkeys(keys):  # distinct keys, first-seen order
            idx = [i for i, k in enumerate(keys) if k == key]
            with self.adapter.applied(self._expert_for(key)):
                self.swaps += key != BASE
                outputs = method([requests[i] for i in idx], disable_tqdm=disable_tqdm)
            for i, out in zip(idx, outputs):
                results[i] = out
        return results

    def generate_until(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().generate_until, disable_tqdm)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood_rolling, disable_tqdm)

    # ------------------------------------------------------------------ provenance
    def get_model_info(self) -> dict:
        info = super().get_model_info()
        info["t2"] = {
            "base_model": self.base_name,
            "strategy": self.strategy,
            "experts_folder": str(self.library.folder) if self.library.folder else None,
            "experts": {name: {"label": e.label, "fingerprint": e.fingerprint, "targets": e.targets}
                        for name, e in self.library.experts.items()},
            "pass1_labels": {task: dict(c) for task, c in self.pass1_labels.items()},
            "expert_installs": self.swaps,
        }
        return info
