"""``lm_eval --model t2``: HFLM with SVF experts chosen per request (two-pass inference).

Every request method runs: plan (the strategy; pass 1) -> group requests by chosen expert
-> install that expert once -> run HFLM on the group -> restore the original order. All
requests of one document (e.g. the choices of a multiple-choice question) share one plan.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import time
from collections import Counter
from contextlib import contextmanager

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from ..dispatch import LAYOUTS, Classifier, Pass1Runner, continuation_scores, get_mode, question_of
from ..engine import ENGINES, VLLMEngine, check_tensor_parallel
from ..models import DEFAULT_MODEL, cache_root, model_slug, resolve_model_path
from ..names import closest
from ..svf import SVFAdapter, check_compatible, decompose, load_expert, mix_experts, save_expert
from .cem import cem_config, cem_search
from .. import distributed
from . import run_tasks
from .fewshot import FewShotSet, load_task
from .run_tasks import RequestSettings
from .library import ExpertLibrary, default_experts_dir
from .strategies import BASE, make_strategy
from .vllm_requests import generate_until as vllm_generate_until

# lm-eval shows its own loggers' INFO lines: t2's start-up line and run summary live under it
log = logging.getLogger("lm_eval.t2")

CHAT_MODES = ("auto", "off")
CPU_AUTO_BATCH = 8


class T2LM(HFLM):
    """Transformer-Squared backend. Model args (all optional):

    pretrained  model alias / hub id / folder (default: the embedded SmolLM2-135M-Instruct)
    experts     folder of expert files (default: experts/<model-slug>/ when present)
    strategy    none | prompt | cls | fewshot | uniform | <expert name> | expert:<name>
                (expert:<name> forces the fixed expert, e.g. expert:cls for the cls expert itself)
                (default: prompt when experts exist, else none)
    dispatch    score (default: pass 1 scores the four labels, one forward per document) |
                generate (the paper's generated classification); for prompt and cls
    pass1_layout  system (default: instructions in the system turn, the question as the user
                turn; more accurate on dispatch_t2) | user (the paper's one-turn prompt)
    pass1_options  true (default: pass 1 sees a multiple-choice question with its options, as
                the reference classifier did) | false (the question only: a shorter pass 1)
    adapt       sample (default: pass 1 per document) | task (prompt/cls: the majority
                pass-1 label of a task's documents answers the whole task)
    chat        auto (default: generative prompts not rendered with the model's chat template
                — no --apply_chat_template — are sent as one user turn of it, so a chat-only
                model answers) | off (prompts exactly as lm-eval renders them)
    fewshot (CEM over mixing weights, once per task, saved and reused):
      shots (10), cem_preset = cpu | reference (population 8 | 32, elite_ratio 0.25 | 0.2,
      init_std 0.3 | 0.5, generations 4; population, generations, elite_ratio, init_std override it),
      alpha = expert | layer | matrix (one alpha per expert, per expert per layer, or per expert
              per targeted matrix: the reference implementation's finest granularity),
      normalize = true | false (alpha sums to 1), seed (0), fewshot_dir (where mixes are saved)
    allow_foreign  true: use experts trained on another base model of the same shapes
                (cross-model transfer, the paper's Table 5); default false refuses them
    engine      hf (default) | vllm: generation (pass 1, pass 2, CEM fitness) by a live vLLM
                engine that mirrors every expert swap; log-likelihoods stay on the HF model
    gpu_memory_utilization  engine=vllm on a GPU: vLLM's share of GPU memory (0.5; the HF
                model lives on the same GPU)
    tensor_parallel_size  engine=vllm: shard vLLM's weights over this many GPUs (1; one process
                only: a torchrun / accelerate launch is data parallel, one engine per rank)
    share_context  true (default): log-likelihood requests that share a context (the options of
                a multiple-choice question) run it once; false: HFLM's loop, one forward each
    """

    def __init__(self, pretrained: str = DEFAULT_MODEL, experts: str | None = None,
                 strategy: str | None = None, dispatch: str = "score", pass1_layout: str = "system",
                 pass1_options: bool = True,
                 adapt: str = "sample", chat: str = "auto", shots: int = 10, cem_preset: str = "cpu",
                 population: int | None = None, generations: int | None = None,
                 elite_ratio: float | None = None, init_std: float | None = None,
                 alpha: str = "expert", normalize: bool = True, seed: int = 0,
                 fewshot_dir: str | None = None, allow_foreign: bool = False, engine: str = "hf",
                 gpu_memory_utilization: float = 0.5, tensor_parallel_size: int = 1, share_context: bool = True,
                 **kwargs):
        # everything that can be wrong with the arguments fails here, before the (slow) model load
        _check_misspelled(kwargs)
        _check_choice("adapt", adapt, ("sample", "task"))
        _check_choice("alpha", alpha, ("expert", "layer", "matrix"))
        _check_choice("engine", engine, ENGINES)
        self.tensor_parallel_size = check_tensor_parallel(engine, tensor_parallel_size,
                                                          distributed.launched_world_size())
        _check_choice("pass1_layout", pass1_layout, LAYOUTS)
        _check_choice("chat", chat, CHAT_MODES)
        mode = get_mode(dispatch)
        self.base_name, self.adapt, self.chat = pretrained, adapt, chat
        self.pass1_options = _as_bool("pass1_options", pass1_options)
        self.share_context = _as_bool("share_context", share_context)
        self.library = ExpertLibrary.from_folder(experts or default_experts_dir(model_slug(pretrained)))
        self.shots, self.seed, self.alpha_mode = int(shots), int(seed), alpha
        self.cem_config = cem_config(cem_preset, seed, _as_bool("normalize", normalize), population=population,
                                     generations=generations, elite_ratio=elite_ratio, init_std=init_std)
        self.strategy = make_strategy(strategy, self.library, adapt, shots=self.shots, alpha=alpha,
                                      cem=vars(self.cem_config))
        if adapt == "task" and distributed.launched_world_size() > 1:
            raise ValueError("adapt=task picks each task's majority pass-1 label, but with "
                             f"{distributed.launched_world_size()} processes every rank sees only its own shard: "
                             "use adapt=sample (the default) or run a single process")
        super().__init__(pretrained=resolve_model_path(pretrained), **kwargs)
        self._own_dp = self.world_size == 1 and distributed.launched_world_size() > 1
        if self._own_dp:  # a launcher started several processes but HFLM stayed single-process
            self._rank, self._world_size = distributed.join_process_group()
        self._ranks: list[dict] = []  # what every rank recorded, gathered at lm-eval's barriers
        self._auto_batch_size: int | None = None
        self.allow_foreign = str(allow_foreign).lower() == "true"
        self.adapter = self._make_adapter()
        self.engine = self._make_engine(engine, resolve_model_path(pretrained), float(gpu_memory_utilization))
        self.pass1 = Classifier(self._pass1_runner(), mode, pass1_layout)
        self.swaps = 0  # expert installs, for tests and provenance
        self.pass1_details: dict[str, dict[int, dict]] = {}  # task -> doc_id -> Decision.record()
        self.seconds: Counter = Counter()  # pass1, pass2, swap, cem_mix, cem_eval
        self.per_task: dict[str, Counter] = {}  # task -> installs / pass1 / pass2 seconds
        self._chat_wrapped: set[str] = set()
        self.fewshot_dir = fewshot_dir
        self._announce()

    # ------------------------------------------------------------------ data parallel
    def all_gather(self, tensor):
        return distributed.all_gather_tensor(tensor) if self._own_dp else super().all_gather(tensor)

    def barrier(self):
        """lm-eval's barrier after each request type; t2 also gathers every rank's records."""
        if self._own_dp:
            distributed.barrier()
        else:
            super().barrier()
        if self.world_size > 1:
            self._ranks = distributed.all_gather_object(self._rank_record())

    def _rank_record(self) -> dict:
        return {"rank": self.rank, "pass1_details": self.pass1_details, "expert_installs": self.swaps,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "per_task": {task: {k: round(v, 3) for k, v in c.items()} for task, c in self.per_task.items()},
                "chat_wrapped_tasks": sorted(self._chat_wrapped)}

    def _all_pass1_details(self) -> dict[str, dict[int, dict]]:
        """Every document's pass-1 record: this process's, or all ranks' after a data-parallel run."""
        if not self._ranks:
            return self.pass1_details
        merged: dict[str, dict[int, dict]] = {}
        for record in self._ranks:
            for task, docs in record["pass1_details"].items():
                merged.setdefault(task, {}).update(docs)
        return {task: dict(sorted(docs.items())) for task, docs in merged.items()}

    # ------------------------------------------------------------------ setup
    @property
    def pass1_decisions(self) -> dict[str, dict[int, str]]:
        """task -> doc_id -> pass-1 label."""
        return {task: {doc: r["label"] for doc, r in docs.items()} for task, docs in self._all_pass1_details().items()}

    @property
    def pass1_labels(self) -> dict[str, Counter]:
        """task -> how many documents got each pass-1 label."""
        return {task: Counter(r["label"] for r in docs.values()) for task, docs in self._all_pass1_details().items()}

    @property
    def fewshot(self) -> dict:
        """task -> fitted mix (strategy=fewshot)."""
        return getattr(self.strategy, "mixes", {})

    def _make_adapter(self) -> SVFAdapter | None:
        if not self.strategy.uses_experts:
            return None
        dec = decompose(self.model, self.library.targets or "mlp")
        for expert in self.library.experts.values():  # at start-up, not when a document first needs it
            check_compatible(expert, dec, self.allow_foreign)
        return SVFAdapter(self.model, dec, allow_foreign=self.allow_foreign)

    def _make_engine(self, name: str, path: str, gpu_share: float) -> VLLMEngine | None:
        if name == "hf":
            return None
        engine = VLLMEngine(path, dtype=self.model.dtype, max_model_len=self.max_length,
                            gpu_memory_utilization=gpu_share, tensor_parallel_size=self.tensor_parallel_size,
                            world_size=distributed.launched_world_size())
        if self.adapter is not None:
            engine.follow(self.adapter)  # every expert swap is pushed into vLLM
        return engine

    def _scoring_batch(self) -> int:
        """Documents per forward for t2's own scorer: the run's batch size, else CPU_AUTO_BATCH
        (``auto``, or lm-eval's default of 1, which would score one document at a time)."""
        return self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 1 else CPU_AUTO_BATCH

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _pass1_runner(self) -> Pass1Runner:
        return Pass1Runner(render=self._render_open_turn, encode=self.tok_encode, model=self.model,
                           generate=self._generate_texts, batch_size=self._scoring_batch(), pad_id=self._pad_id)

    def _announce(self) -> None:
        s = self.strategy
        labelled = {e.label: name for name, e in self.library.experts.items() if e.label}
        classifies = s.uses_pass1
        log.info("t2: strategy=%s%s, experts %s: %s, engine=%s, chat=%s", s.name,
                 f" (dispatch={self.pass1.mode.name}, pass1_layout={self.pass1.layout}, "
                 f"pass1_options={str(self.pass1_options).lower()}, adapt={self.adapt})"
                 if classifies else "", self.library.folder or "(none)",
                 ", ".join(f"{n} [{l}]" for l, n in labelled.items()) or "(none)",
                 "vllm" if self.engine else "hf", self.chat)
        if s.name == "none" and self.library.folder is None:
            log.warning("t2: no experts found for %s (pass experts=<folder> or set $T2EVAL_EXPERTS): "
                        "every request is answered by the BASE weights (strategy=none), as --model hf would",
                        self.base_name)

    def _render_open_turn(self, messages: list[dict]) -> str:
        """A chat with the assistant turn open; without a chat template, the plain texts."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.apply_chat_template(messages, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    # ------------------------------------------------------------------ generation
    def _generate(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """generate_until on the installed weights: HF generate, or the vLLM engine."""
        requests = self._chat_rendered(requests)
        if self.engine is None:
            return HFLM.generate_until(self, requests, disable_tqdm=disable_tqdm)
        return vllm_generate_until(self, self.engine, requests, disable_tqdm)

    def _generate_texts(self, prompts: list[str], gen_kwargs: dict) -> list[str]:
        pass1 = [Instance("generate_until", {}, (p, dict(gen_kwargs)), i) for i, p in enumerate(prompts)]
        return self._generate(pass1, disable_tqdm=False)

    @functools.cached_property
    def _chat_tail(self) -> str | None:
        """What the chat template puts after a user message (None: no chat template); once."""
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        try:
            tail = self.apply_chat_template([{"role": "user", "content": "\x00"}]).split("\x00")[-1]
        except Exception:
            return None
        return tail if tail.strip() else None

    def _chat_rendered(self, requests: list[Instance]) -> list[Instance]:
        """chat=auto: prompts lm-eval did not render with the chat template become one user turn."""
        tail = self._chat_tail if self.chat == "auto" else None
        if tail is None or all(tail in str(r.args[0]) for r in requests):
            return requests
        out = []
        for r in requests:
            if tail in str(r.args[0]):
                out.append(r)
                continue
            task = r.task_name or "?"
            if task not in self._chat_wrapped:
                self._chat_wrapped.add(task)
                log.warning("t2: %s prompts were not rendered with the model's chat template (no "
                            "--apply_chat_template): t2 sends each as one user turn of it (chat=auto; "
                            "chat=off keeps them raw)", task)
            rendered = self.apply_chat_template([{"role": "user", "content": r.args[0]}])
            out.append(Instance(r.request_type, r.doc, (rendered, *r.args[1:]), r.idx,
                                metadata=(r.task_name, r.doc_id, r.repeats)))
        return out

    # ------------------------------------------------------------------ pass 1
    def _plan(self, requests: list[Instance]) -> list[str]:
        """One expert key per request; requests of one document share it."""
        docs = {}
        for req in requests:
            docs.setdefault((req.task_name, req.doc_id), req)
        keys = self.strategy.plan(self, list(docs.values()))
        by_doc = dict(zip(docs, keys))
        for (task, doc_id), key in by_doc.items():  # which weights answered each classified document
            record = self.pass1_details.get(task or "?", {}).get(doc_id)
            if record is not None:
                record["weights"] = key
        return [by_doc[(req.task_name, req.doc_id)] for req in requests]

    def classify(self, reqs: list[Instance], expert=None) -> list[str]:
        """Pass 1: a label per document, on base weights or with ``expert`` (cls) installed."""
        questions = [question_of(r.doc, r.args[0], self.pass1_options) for r in reqs]
        title = f"t2 pass 1 ({expert.name if expert else 'base'} weights)"
        start = time.perf_counter()
        with self.adapter.applied(expert), self._cache_hook_off():
            decisions = self.pass1.classify(questions, title)
        elapsed = time.perf_counter() - start
        self.seconds["pass1"] += elapsed
        for req, decision in zip(reqs, decisions):
            self.pass1_details.setdefault(req.task_name or "?", {})[req.doc_id] = decision.record()
        for task, n in Counter(r.task_name or "?" for r in reqs).items():
            self.per_task.setdefault(task, Counter())["pass1_s"] += elapsed * n / len(reqs)
        return [d.label for d in decisions]

    # ------------------------------------------------------------------ pass 2
    def _run(self, requests: list[Instance], method, disable_tqdm: bool) -> list:
        if self.adapter is None:
            return method(requests, disable_tqdm=disable_tqdm)
        self.strategy.prepare(self, requests)
        keys = self._plan(requests)
        results = [None] * len(requests)
        for key in dict.fromkeys(keys):  # distinct keys, first-seen order
            idx = [i for i, k in enumerate(keys) if k == key]
            start = time.perf_counter()
            with self.adapter.applied(self.strategy.expert(key)):
                self.swaps += key != BASE
                self.seconds["swap"] += time.perf_counter() - start
                outputs = method([requests[i] for i in idx], disable_tqdm=disable_tqdm)
            elapsed = time.perf_counter() - start
            self.seconds["pass2"] += elapsed
            for task, n in Counter(requests[i].task_name or "?" for i in idx).items():
                counts = self.per_task.setdefault(task, Counter())
                counts["pass2_s"] += elapsed * n / len(idx)
                counts[f"installs:{key}"] += 1
            for i, out in zip(idx, outputs):
                results[i] = out
        return results

    def generate_until(self, requests, disable_tqdm: bool = False):
        return self._run(requests, self._generate, disable_tqdm)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood_rolling, disable_tqdm)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        """HFLM's log-likelihoods with each distinct context run once for all its continuations
        (a multiple-choice question costs one forward, not one per option; share_context=false:
        HFLM's own loop). Requests HFLM would truncate go to HFLM unchanged."""
        if not self.share_context:
            return super()._loglikelihood_tokens(requests, disable_tqdm, override_bs)
        groups: dict[tuple, list[int]] = {}
        for i, (_, context, continuation) in enumerate(requests):
            if continuation and len(context) + len(continuation) <= self.max_length + 1:
                groups.setdefault(tuple(context), []).append(i)
        out: list = [None] * len(requests)
        if groups:
            scored = continuation_scores(self.model, [list(c) for c in groups],
                                         [[requests[i][2] for i in idx] for idx in groups.values()],
                                         batch_size=override_bs or self._scoring_batch(), pad_id=self._pad_id,
                                         progress=None if disable_tqdm else "Running loglikelihood requests "
                                         f"(t2: {len(groups)} contexts, each run once)")
            for idx, row in zip(groups.values(), scored):
                for i, answer in zip(idx, row):
                    out[i] = answer
                    if requests[i][0] is not None:
                        self.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
        rest = [i for i, answer in enumerate(out) if answer is None]
        if rest:
            for i, answer in zip(rest, super()._loglikelihood_tokens([requests[i] for i in rest], disable_tqdm,
                                                                     override_bs)):
                out[i] = answer
        return out

    # ------------------------------------------------------------------ few-shot (CEM)
    def fewshot_mix(self, task: str, requests: list[Instance]):
        """The saved mix for ``task`` if its settings match, else a freshly fitted (and saved) one."""
        chat = self._chat_mode(requests)
        task_obj, settings = self._run_task(task, chat)
        shots = FewShotSet.build(task_obj, self.shots, self.seed, settings)
        path = self._fewshot_path(task, chat, shots.fingerprint())
        if path.exists():
            log.info("fewshot: reusing the mix for %s from %s", task, path)
            return load_expert(path)
        mix = self._fit_fewshot(task, chat, shots)
        save_expert(mix, path)
        log.info("fewshot: saved the mix for %s to %s", task, path)
        return mix

    def _run_task(self, task: str, chat: bool):
        """The task object of this run and the settings of its scored requests (recorded by
        t2eval's lm-eval hook); outside an lm-eval run, a freshly loaded task with zero shots."""
        found = run_tasks.lookup(task)
        if found is not None:
            return found
        log.warning("fewshot: no record of how lm-eval built %s's requests (called outside lm-eval's "
                    "evaluator?); fitness uses zero-shot prompts%s", task, " in the chat template" if chat else "")
        return load_task(task), RequestSettings(apply_chat_template=chat,
                                                chat_template=self.apply_chat_template if chat else None)

    def _fit_fewshot(self, task: str, chat: bool, shots: FewShotSet):
        experts = list(self.library.by_label.values())
        bank = self.adapter.merged_bank(experts)
        names = list(self.adapter.decomposition.names) if self.alpha_mode == "matrix" else None
        columns = {"expert": (), "layer": (self.config.num_hidden_layers,), "matrix": (len(names or ()),)}
        shape = (len(experts), *columns[self.alpha_mode])

        def evaluate(alpha):
            start = time.perf_counter()
            self.adapter.apply_mix(bank, alpha, per_matrix=names is not None)
            mixed = time.perf_counter()
            result = shots.score(self._run_plain, lambda text: len(self.tok_encode(text)))
            self.seconds["cem_mix"] += mixed - start
            self.seconds["cem_eval"] += time.perf_counter() - mixed
            return result

        try:
            found = cem_search(evaluate, shape, self.cem_config,
                               progress=f"few-shot CEM for {task} ({len(shots.docs)} shots)")
        finally:
            self.adapter.remove()
        mix = mix_experts(experts, found.alpha, name=f"fewshot-{task}", names=names)
        mix.provenance.update(task=task, experts=[e.name for e in experts], shots=len(shots.docs),
                              split=shots.split, seed=self.seed,
                              score=found.score, tiebreak=found.tiebreak, cem=vars(self.cem_config),
                              chat_template=chat, history=found.history, alpha_granularity=self.alpha_mode,
                              **({"alpha_columns": names} if names else {}))
        return mix

    def _run_plain(self, request_type: str, instances: list[Instance]) -> list:
        """HFLM on the installed weights, no dispatch, no response cache."""
        with self._cache_hook_off():
            if request_type == "generate_until":
                return self._generate(instances, disable_tqdm=True)
            return getattr(HFLM, request_type)(self, instances, disable_tqdm=True)

    def _chat_mode(self, requests: list[Instance]) -> bool:
        """Were these requests rendered with the chat template (lm-eval's --apply_chat_template)?"""
        tail = self._chat_tail
        return tail is not None and any(tail in str(r.args[0]) for r in requests)

    def _fewshot_path(self, task: str, chat: bool, shots_fingerprint: str):
        from pathlib import Path

        settings = json.dumps([self.config_fingerprint(), task, self.shots, self.alpha_mode, chat,
                               vars(self.cem_config), shots_fingerprint], sort_keys=True)
        digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
        root = Path(self.fewshot_dir) if self.fewshot_dir else cache_root() / "fewshot" / model_slug(self.base_name)
        return root / f"{task}-{digest}.safetensors"

    # ------------------------------------------------------------------ lm-eval features
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
        """Keep pass-1 generations out of lm-eval's response cache."""
        hook, self.cache_hook = self.cache_hook, type(self.cache_hook)(None)
        try:
            yield
        finally:
            self.cache_hook = hook

    def set_cache_hook(self, cache_hook) -> None:
        """``--use_cache``: the cache is keyed on request text only, so one cache file may
        only ever hold answers of one t2 configuration; a mismatch stops the run."""
        if cache_hook.dbdict is not None:
            self._claim_cache(cache_hook.dbdict)
        super().set_cache_hook(cache_hook)

    def config_fingerprint(self) -> str:
        """sha256 of everything that decides which weights answer a request (and how it is asked)."""
        config = {"base": self.base_name, **self.strategy.fingerprint(), "pass1": {**self.pass1.fingerprint(), "options": self.pass1_options},
                  "allow_foreign": self.allow_foreign, "chat": self.chat, "share_context": self.share_context,
                  "experts": sorted(e.fingerprint for e in self.library.experts.values())}
        return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()

    def _claim_cache(self, dbdict) -> None:
        mine, key = self.config_fingerprint(), "__t2eval_config__"
        theirs = dbdict.get(key)
        if theirs is None and len(dbdict) > 0:
            raise RuntimeError(f"--use_cache file {dbdict.filename} holds answers of another model "
                               "(not written by t2); give t2 its own cache path")
        if theirs not in (None, mine):
            raise RuntimeError(f"--use_cache file {dbdict.filename} holds answers of a different t2 "
                               f"configuration (experts/strategy/base model; {theirs[:12]} != {mine[:12]}); "
                               "use one cache path per configuration")
        dbdict[key] = mine

    # ------------------------------------------------------------------ provenance
    def summary(self) -> str:
        """Per task: pass-1 labels, expert installs, pass-1 and pass-2 seconds."""
        lines = []
        for task, c in self.per_task.items():
            labels = ", ".join(f"{k} {v}" for k, v in self.pass1_labels.get(task, Counter()).most_common())
            installs = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in c.items() if k.startswith("installs:"))
            lines.append(f"  {task}: pass 1 {c['pass1_s']:.1f} s{f' [{labels}]' if labels else ''}; "
                         f"pass 2 {c['pass2_s']:.1f} s, weights used: {installs or 'base'}")
        return "\n".join(lines)

    def get_model_info(self) -> dict:
        info = super().get_model_info()
        if self.per_task:
            log.info("t2 summary (strategy=%s):\n%s", self.strategy.name, self.summary())
        info["t2"] = {
            "base_model": self.base_name,
            "strategy": self.strategy.name,
            "dispatch": self.pass1.mode.name,
            "pass1_layout": self.pass1.layout,
            "pass1_options": self.pass1_options,
            "chat": self.chat,
            "share_context": self.share_context,
            "chat_wrapped_tasks": sorted(self._chat_wrapped),
            "experts_folder": str(self.library.folder) if self.library.folder else None,
            "experts": {name: _expert_info(e) for name, e in self.library.experts.items()},
            "adapt": self.adapt,
            "pass1_labels": {task: dict(c) for task, c in self.pass1_labels.items()},
            "pass1_decisions": self.pass1_decisions,
            "pass1_details": self._all_pass1_details(),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "per_task": {task: {k: round(v, 3) for k, v in c.items()} for task, c in self.per_task.items()},
            "expert_installs": self.swaps,
            "data_parallel": {"world_size": self.world_size, "ranks": [
                {k: v for k, v in r.items() if k != "pass1_details"} for r in self._ranks]} if self._ranks else None,
            "engine": "vllm" if self.engine else "hf",
            "config_fingerprint": self.config_fingerprint(),
            "fewshot": {task: {"alpha": m.provenance["alpha"], "experts": m.provenance.get("experts"),
                               "fingerprint": m.fingerprint,
                               "shots": m.provenance.get("shots"), "split": m.provenance.get("split"),
                               "score": m.provenance.get("score")}
                        for task, m in self.fewshot.items()},
        }
        return info


def _expert_info(expert) -> dict:
    """What a results file records of an expert: enough to say which weights answered."""
    prov = expert.provenance or {}
    return {"label": expert.label, "fingerprint": expert.fingerprint, "targets": expert.targets,
            "base_model": expert.base_model, "params": expert.num_params, "kind": prov.get("kind"),
            "objective": prov.get("objective"), "trained_on": prov.get("task"), "kl": prov.get("kl")}


def _check_choice(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be {' or '.join(repr(a) for a in allowed)}, got {value!r}")


def _as_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _known_args() -> list[str]:
    own = inspect.signature(T2LM.__init__).parameters
    hf = inspect.signature(HFLM.__init__).parameters
    return [n for n in [*own, *hf] if n not in ("self", "kwargs")]


def _check_misspelled(kwargs: dict) -> None:
    """A model argument that is neither t2's nor HFLM's goes on to from_pretrained; one that
    is a near-miss of a known argument is a typo, and would fail deep inside the model class."""
    known = _known_args()
    for name in kwargs:
        if name in known:
            continue
        near = closest(name, known, cutoff=0.75)
        if near:
            own = [n for n in inspect.signature(T2LM.__init__).parameters if n not in ("self", "kwargs")]
            raise ValueError(f"unknown t2 model argument {name!r} — did you mean {near!r}? "
                             f"t2's own arguments: {', '.join(own)} (and HFLM's)")
