"""``lm_eval --model t2``: HFLM with SVF experts chosen per request (two-pass inference).

Every request method runs: plan (the strategy; pass 1) -> group requests by chosen expert
-> install that expert once -> run HFLM on the group -> restore the original order. All
requests of one document (e.g. the choices of a multiple-choice question) share one plan.
The arguments are :class:`~t2eval.harness.args.T2Args`; what the run records is a
:class:`~t2eval.harness.record.RunRecord`; strategies come from :mod:`t2eval.adapt`.
"""

from __future__ import annotations

import functools
import logging
import time
from contextlib import contextmanager
from pathlib import Path

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from .. import distributed
from ..adapt import BASE, ExpertLibrary, cem_config, default_experts_dir, make_strategy
from ..dispatch import Classifier, Pass1Runner, get_mode, question_of
from ..engine import VLLMEngine, check_tensor_parallel
from ..models import cache_root, model_slug, resolve_model_path
from ..svf import SVFAdapter, check_compatible, decompose, ones_expert
from . import requests as rq
from .args import T2Args, help_table
from .fewshot import FewShotFitter, run_task
from .guard import BaseGuard
from .record import RunRecord, claim_cache, config_fingerprint, expert_info, fewshot_info
from .run_tasks import RequestSettings

# lm-eval shows its own loggers' INFO lines: t2's start-up line and run summary live under it
log = logging.getLogger("lm_eval.t2")

CPU_AUTO_BATCH = 8


class T2LM(HFLM):
    """Transformer-Squared backend: HFLM plus pass 1 and expert installs. Model args: see
    :class:`T2Args` (``t2eval eval --help``, docs/backend.md)."""

    def __init__(self, **kwargs):
        # everything that can be wrong with the arguments fails here, before the (slow) model load
        self.args, hf_kwargs = T2Args.split(kwargs)
        a = self.args
        world = distributed.launched_world_size()
        self.tensor_parallel_size = check_tensor_parallel(a.engine, a.tensor_parallel_size, world)
        mode = get_mode(a.dispatch)
        self.library = ExpertLibrary.from_folder(a.experts or default_experts_dir(model_slug(a.pretrained)))
        self.cem_config = cem_config(a.cem_preset, a.seed, a.normalize, population=a.population,
                                     generations=a.generations, elite_ratio=a.elite_ratio, init_std=a.init_std)
        self.strategy = make_strategy(a.strategy, self.library, a.adapt, shots=a.shots, alpha=a.alpha,
                                      cem=vars(self.cem_config), **({"mix_base": True} if a.mix_base else {}))
        if a.adapt == "task" and world > 1:
            raise ValueError("adapt=task picks each task's majority pass-1 label, but with "
                             f"{world} processes every rank sees only its own shard: "
                             "use adapt=sample (the default) or run a single process")
        super().__init__(pretrained=resolve_model_path(a.pretrained), **hf_kwargs)
        self._own_dp = self.world_size == 1 and world > 1
        if self._own_dp:  # a launcher started several processes but HFLM stayed single-process
            self._rank, self._world_size = distributed.join_process_group()
        self._auto_batch_size: int | None = None
        self.record = RunRecord()
        self.adapter = self._make_adapter()
        self.engine = self._make_engine(resolve_model_path(a.pretrained))
        self.guard = self._make_guard() if a.guard and self.adapter is not None else None
        self.pass1 = Classifier(Pass1Runner(render=functools.partial(rq.open_turn, self), encode=self.tok_encode,
                                            model=self.model, generate=self._generate_texts,
                                            batch_size=self._scoring_batch(), pad_id=self._pad_id),
                                mode, a.pass1_layout)
        self._announce()

    # ------------------------------------------------------------------ setup
    def _make_adapter(self) -> SVFAdapter | None:
        if not self.strategy.uses_experts:
            return None
        dec = decompose(self.model, self.library.targets or "mlp")
        for expert in self.library.experts.values():  # at start-up, not when a document first needs it
            check_compatible(expert, dec, self.args.allow_foreign)
        return SVFAdapter(self.model, dec, allow_foreign=self.args.allow_foreign)

    def _make_engine(self, path: str) -> VLLMEngine | None:
        if self.args.engine == "hf":
            return None
        engine = VLLMEngine(path, dtype=self.model.dtype, max_model_len=self.max_length,
                            gpu_memory_utilization=self.args.gpu_memory_utilization,
                            tensor_parallel_size=self.tensor_parallel_size,
                            world_size=distributed.launched_world_size())
        if self.adapter is not None:
            engine.follow(self.adapter)  # every expert swap is pushed into vLLM
        return engine

    def _chat_settings(self, chat: bool) -> RequestSettings:
        """Request settings of a zero-shot task outside lm-eval (held-out documents)."""
        return RequestSettings(apply_chat_template=chat, chat_template=self.apply_chat_template if chat else None)

    def _make_guard(self) -> BaseGuard:
        """guard=true: experts must not score below base on a task's held-out documents."""
        return BaseGuard(
            shots=self.args.guard_shots, seed=self.args.seed, applied=self.adapter.applied,
            expert_of=self.strategy.expert,
            task_of=lambda task, reqs: run_task(task, rq.rendered_with_chat(reqs, self._chat_tail), self._chat_settings),
            run_plain=self._run_plain, token_count=lambda text: len(self.tok_encode(text)), seconds=self.record.seconds)

    @functools.cached_property
    def fitter(self) -> FewShotFitter:
        """strategy=fewshot's ``fit(task, requests)``."""
        a = self.args
        folder = cache_root() / "fewshot" / model_slug(a.pretrained) if a.fewshot_dir is None else a.fewshot_dir
        return FewShotFitter(
            adapter=self.adapter, experts=self._mixed_experts(), shots=a.shots, seed=a.seed,
            alpha_mode=a.alpha, num_layers=self.config.num_hidden_layers, cem=self.cem_config,
            folder=Path(folder), run_plain=self._run_plain,
            token_count=lambda text: len(self.tok_encode(text)),
            chat_settings=self._chat_settings,
            is_chat=lambda reqs: rq.rendered_with_chat(reqs, self._chat_tail),
            config_fingerprint=self.config_fingerprint, seconds=self.record.seconds)

    def _mixed_experts(self) -> list:
        """What few-shot CEM mixes: the labelled experts, and with ``mix_base`` the base weights
        (the identity expert, z = 1) as one more candidate."""
        experts = list(self.library.by_label.values())
        if len(experts) == 1 and not self.args.mix_base and self.args.normalize:
            log.warning("t2: strategy=fewshot with one labelled expert (%s) and alpha summing to 1 has nothing to "
                        "mix: every fit is that expert; pass mix_base=true to search between it and the base "
                        "weights", experts[0].name)
        if self.args.mix_base and experts:
            first = experts[0]
            identity = ones_expert(self.adapter.decomposition, first.base_model, first.targets, first.rescale)
            experts.append(identity.with_z(identity.z, name=BASE))
        return experts

    def _scoring_batch(self) -> int:
        """Documents per forward for t2's own scorer: the run's batch size, else CPU_AUTO_BATCH
        (``auto``, or lm-eval's default of 1, which would score one document at a time)."""
        return self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 1 else CPU_AUTO_BATCH

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    @functools.cached_property
    def _chat_tail(self) -> str | None:
        return rq.chat_tail(self)

    def _announce(self) -> None:
        s, a = self.strategy, self.args
        labelled = {e.label: name for name, e in self.library.experts.items() if e.label}
        log.info("t2: strategy=%s%s, experts %s: %s, engine=%s, chat=%s", s.name,
                 f" (dispatch={self.pass1.mode.name}, pass1_layout={self.pass1.layout}, "
                 f"pass1_options={str(a.pass1_options).lower()}, adapt={a.adapt})" if s.uses_pass1 else "",
                 self.library.folder or "(none)", ", ".join(f"{n} [{l}]" for l, n in labelled.items()) or "(none)",
                 a.engine, a.chat)
        if not s.uses_experts and self.library.folder is None:
            log.warning("t2: no experts found for %s (pass experts=<folder> or set $T2EVAL_EXPERTS): "
                        "every request is answered by the BASE weights (strategy=none), as --model hf would",
                        a.pretrained)

    # ------------------------------------------------------------------ pass 1
    def _plan(self, requests: list[Instance]) -> list[str]:
        """One expert key per request; requests of one document share it."""
        docs = {}
        for req in requests:
            docs.setdefault((req.task_name, req.doc_id), req)
        by_doc = dict(zip(docs, self.strategy.plan(list(docs.values()), self.classify)))
        self.record.add_weights(by_doc)
        return [by_doc[(req.task_name, req.doc_id)] for req in requests]

    def classify(self, reqs: list[Instance], expert=None) -> list[str]:
        """Pass 1: a label per document, on base weights or with ``expert`` (cls) installed."""
        questions = [question_of(r.doc, r.args[0], self.args.pass1_options) for r in reqs]
        start = time.perf_counter()
        with self.adapter.applied(expert), self._cache_hook_off():
            decisions = self.pass1.classify(questions, f"t2 pass 1 ({expert.name if expert else 'base'} weights)")
        self.record.add_pass1(reqs, decisions, time.perf_counter() - start)
        return [d.label for d in decisions]

    # ------------------------------------------------------------------ pass 2
    def _run(self, requests: list[Instance], method, disable_tqdm: bool) -> list:
        if self.adapter is None:
            return method(requests, disable_tqdm=disable_tqdm)
        self.strategy.prepare(requests, lambda task, reqs: self.fitter(task, reqs))
        keys = self._plan(requests)
        if self.guard is not None:
            keys = self.guard(requests, keys)
            self.record.add_weights({(r.task_name, r.doc_id): k for r, k in zip(requests, keys)})
        results = [None] * len(requests)
        for key in dict.fromkeys(keys):  # distinct keys, first-seen order
            idx = [i for i, k in enumerate(keys) if k == key]
            start = time.perf_counter()
            with self.adapter.applied(self.strategy.expert(key)):
                self.record.installs += key != BASE
                self.record.seconds["swap"] += time.perf_counter() - start
                outputs = method([requests[i] for i in idx], disable_tqdm=disable_tqdm)
            self.record.add_pass2(key, [requests[i] for i in idx], time.perf_counter() - start)
            for i, out in zip(idx, outputs):
                results[i] = out
        return results

    def generate_until(self, requests, disable_tqdm: bool = False):
        return self._run(requests, self._generate, disable_tqdm)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood_rolling, disable_tqdm)

    def _generate(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        tail = self._chat_tail if self.args.chat == "auto" else None
        return rq.generate(self, self.engine, rq.wrap_in_chat(self, requests, tail, self.record.chat_wrapped),
                           disable_tqdm)

    def _generate_texts(self, prompts: list[str], gen_kwargs: dict) -> list[str]:
        return self._generate(rq.as_requests(prompts, gen_kwargs), disable_tqdm=False)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        """Each distinct context run once for all its continuations (share_context=false: HFLM's loop)."""
        hflm = functools.partial(super()._loglikelihood_tokens, disable_tqdm=disable_tqdm, override_bs=override_bs)
        if not self.args.share_context:
            return hflm(requests)
        return rq.shared_context_loglikelihoods(self, requests, override_bs or self._scoring_batch(), self._pad_id,
                                                disable_tqdm, hflm)

    def _run_plain(self, request_type: str, instances: list[Instance]) -> list:
        """HFLM on the installed weights, no dispatch, no response cache (few-shot fitness)."""
        with self._cache_hook_off():
            if request_type == "generate_until":
                return self._generate(instances, disable_tqdm=True)
            return getattr(HFLM, request_type)(self, instances, disable_tqdm=True)

    # ------------------------------------------------------------------ lm-eval features
    def all_gather(self, tensor):
        return distributed.all_gather_tensor(tensor) if self._own_dp else super().all_gather(tensor)

    def barrier(self):
        """lm-eval's barrier after each request type; t2 also gathers every rank's records."""
        if self._own_dp:
            distributed.barrier()
        else:
            super().barrier()
        if self.world_size > 1:
            self.record.ranks = distributed.all_gather_object(self.record.rank_record(self.rank))

    def _detect_batch_size(self, requests=None, pos: int = 0):
        """batch_size=auto: detect once, then reuse for every expert group. On a CPU there is
        no out-of-memory signal to probe for (HFLM's probe would try batch 64 at the full
        context length, gigabytes and minutes): t2 uses CPU_AUTO_BATCH and says so."""
        if self._auto_batch_size is None:
            if str(self.device).startswith("cpu"):
                log.warning("t2: batch_size=auto on a CPU: no probe, using batch size %d "
                            "(pass --batch_size N to choose)", CPU_AUTO_BATCH)
                self._auto_batch_size = CPU_AUTO_BATCH
            else:
                self._auto_batch_size = super()._detect_batch_size(requests, pos)
        return self._auto_batch_size

    @contextmanager
    def _cache_hook_off(self):
        """Keep pass-1 generations and few-shot fitness out of lm-eval's response cache."""
        hook, self.cache_hook = self.cache_hook, type(self.cache_hook)(None)
        try:
            yield
        finally:
            self.cache_hook = hook

    def set_cache_hook(self, cache_hook) -> None:
        """``--use_cache`` files hold answers of one t2 configuration only (see record.claim_cache)."""
        if cache_hook.dbdict is not None:
            claim_cache(cache_hook.dbdict, self.config_fingerprint())
        super().set_cache_hook(cache_hook)

    def config_fingerprint(self) -> str:
        return config_fingerprint(self.args, self.strategy, self.pass1, self.library)

    def get_model_info(self) -> dict:
        info = super().get_model_info()
        a = self.args
        if self.record.per_task:
            log.info("t2 summary (strategy=%s):\n%s", self.strategy.name, self.record.summary())
        info["t2"] = {
            "base_model": a.pretrained, "strategy": self.strategy.name, "dispatch": self.pass1.mode.name,
            "pass1_layout": self.pass1.layout, "pass1_options": a.pass1_options, "chat": a.chat,
            "share_context": a.share_context,
            "experts_folder": str(self.library.folder) if self.library.folder else None,
            "experts": {name: expert_info(e) for name, e in self.library.experts.items()},
            "adapt": a.adapt, **self.record.info(self.world_size), "engine": a.engine,
            "config_fingerprint": self.config_fingerprint(),
            "fewshot": fewshot_info(getattr(self.strategy, "mixes", {})),
            "guard": self.guard.info() if self.guard is not None else None,
        }
        return info


T2LM.__doc__ += "\n\n" + help_table()
