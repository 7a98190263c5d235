"""``lm_eval --model t2``: HFLM with SVF experts chosen per request (two-pass inference).

Every request method runs: plan (pass 1) -> group requests by chosen expert -> install
that expert once -> run HFLM on the group -> restore the original order. All requests of
one document (e.g. the choices of a multiple-choice question) share one plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from contextlib import contextmanager

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from ..models import DEFAULT_MODEL, cache_root, model_slug, resolve_model_path
from ..engine import ENGINES, VLLMEngine
from ..svf import SVFAdapter, decompose, load_expert, mix_experts, save_expert
from .cem import CEMConfig, cem_search
from .dispatch import classification_prompt, parse_label, question_of
from .fewshot import FewShotSet, load_task
from .library import ExpertLibrary, default_experts_dir
from .vllm_requests import generate_until as vllm_generate_until

log = logging.getLogger(__name__)

STRATEGIES = ("none", "prompt", "cls", "uniform", "fewshot")
BASE = "base"
PASS1_GEN = {"until": ["\n\n\n"], "max_gen_toks": 48, "do_sample": False}


class T2LM(HFLM):
    """Transformer-Squared backend. Model args (all optional):

    pretrained  model alias / hub id / folder (default: the embedded SmolLM2-135M-Instruct)
    experts     folder of expert files (default: experts/<model-slug>/ when present)
    strategy    none | prompt | cls | fewshot | uniform | <expert name> | expert:<name>
                (expert:<name> forces the fixed expert, e.g. expert:cls for the cls expert itself)
                (default: prompt when experts exist, else none)
    adapt       sample (default: pass 1 per document) | task (prompt/cls: the majority
                pass-1 label of a task's documents answers the whole task)
    fewshot (CEM over mixing weights, once per task, saved and reused):
      shots (10), population (8), generations (4), elite_ratio (0.25), init_std (0.3),
      alpha = expert | layer (one alpha per expert, or per expert per layer),
      normalize = true | false (alpha sums to 1), seed (0), fewshot_dir (where mixes are saved)
    allow_foreign  true: use experts trained on another base model of the same shapes
                (cross-model transfer, the paper's Table 5); default false refuses them
    engine      hf (default) | vllm: generation (pass 1, pass 2, CEM fitness) by a live vLLM
                engine that mirrors every expert swap; log-likelihoods stay on the HF model
    gpu_memory_utilization  engine=vllm on a GPU: vLLM's share of GPU memory (0.5; the HF
                model lives on the same GPU)
    """

    def __init__(self, pretrained: str = DEFAULT_MODEL, experts: str | None = None,
                 strategy: str | None = None, adapt: str = "sample", shots: int = 10, population: int = 8,
                 generations: int = 4, elite_ratio: float = 0.25, init_std: float = 0.3,
                 alpha: str = "expert", normalize: bool = True, seed: int = 0,
                 fewshot_dir: str | None = None, allow_foreign: bool = False, engine: str = "hf",
                 gpu_memory_utilization: float = 0.5, **kwargs):
        _check_choice("adapt", adapt, ("sample", "task"))  # before the (slow) model load
        _check_choice("alpha", alpha, ("expert", "layer"))
        _check_choice("engine", engine, ENGINES)
        super().__init__(pretrained=resolve_model_path(pretrained), **kwargs)
        if self.world_size > 1:
            raise RuntimeError("--model t2 does not support data-parallel launches (accelerate "
                               f"launch with {self.world_size} processes) yet: run a single process, "
                               "or shard one model over GPUs with --model_args parallelize=True")
        self.base_name, self.adapt = pretrained, adapt
        self._auto_batch_size: int | None = None
        self.library = ExpertLibrary.from_folder(experts or default_experts_dir(model_slug(pretrained)))
        self.strategy = strategy or ("prompt" if self.library.by_label else "none")
        self._check_strategy()
        self.allow_foreign = str(allow_foreign).lower() == "true"
        self.adapter = self._make_adapter()
        self.engine = self._make_engine(engine, resolve_model_path(pretrained), float(gpu_memory_utilization))
        self.swaps = 0  # expert installs, for tests and provenance
        self.pass1_labels: dict[str, Counter] = {}
        self.pass1_decisions: dict[str, dict[int, str]] = {}  # task -> doc_id -> label
        self.seconds: Counter = Counter()  # pass1, pass2, swap, cem_mix, cem_eval
        self.shots, self.seed, self.alpha_mode = int(shots), int(seed), alpha
        self.cem_config = CEMConfig(int(population), int(generations), float(elite_ratio),
                                    float(init_std), normalize=str(normalize).lower() == "true",
                                    seed=int(seed))
        self.fewshot_dir = fewshot_dir
        self.fewshot: dict[str, object] = {}  # task -> fitted mix (an Expert)

    # ------------------------------------------------------------------ setup
    def _check_strategy(self) -> None:
        if self.strategy.startswith("expert:"):
            self.library.get(self.strategy.split(":", 1)[1])  # raises "unknown expert ... did you mean"
            return
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
        return SVFAdapter(self.model, dec, allow_foreign=self.allow_foreign)

    def _make_engine(self, name: str, path: str, gpu_share: float) -> VLLMEngine | None:
        if name == "hf":
            return None
        engine = VLLMEngine(path, dtype=self.model.dtype, max_model_len=self.max_length,
                            gpu_memory_utilization=gpu_share)
        if self.adapter is not None:
            engine.follow(self.adapter)  # every expert swap is pushed into vLLM
        return engine

    def _generate(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """generate_until on the installed weights: HF generate, or the vLLM engine."""
        if self.engine is None:
            return HFLM.generate_until(self, requests, disable_tqdm=disable_tqdm)
        return vllm_generate_until(self, self.engine, requests, disable_tqdm)

    def _expert_for(self, key: str):
        if key == BASE:
            return None
        if key.startswith("fewshot:"):
            return self.fewshot[key.split(":", 1)[1]]
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
            if self.adapt == "task":
                keys = _majority_per_task([task for task, _ in docs], keys)
        elif self.strategy == "fewshot":
            keys = [f"fewshot:{task}" for task, _ in docs]
        else:
            key = BASE if self.strategy == "none" else self.strategy.removeprefix("expert:")
            keys = [key] * len(docs)
        by_doc = dict(zip(docs, keys))
        return [by_doc[(req.task_name, req.doc_id)] for req in requests]

    def _classify(self, reqs: list[Instance]) -> list[str]:
        """Ask the model (base weights, or the cls expert) to label each document."""
        prompts = [self.apply_chat_template([{"role": "user", "content": classification_prompt(
            question_of(r.doc, r.args[0]))}]) for r in reqs]
        pass1 = [Instance("generate_until", {}, (p, dict(PASS1_GEN)), i) for i, p in enumerate(prompts)]
        expert = self.library.get("cls") if self.strategy == "cls" else None
        start = time.perf_counter()
        with self.adapter.applied(expert), self._cache_hook_off():
            responses = self._generate(pass1, disable_tqdm=True)
        self.seconds["pass1"] += time.perf_counter() - start
        labels = [parse_label(text) for text in responses]
        for req, label in zip(reqs, labels):
            self.pass1_labels.setdefault(req.task_name or "?", Counter())[label] += 1
            self.pass1_decisions.setdefault(req.task_name or "?", {})[req.doc_id] = label
        return [label if label in self.library.by_label else BASE for label in labels]

    # ------------------------------------------------------------------ pass 2
    def _run(self, requests: list[Instance], method, disable_tqdm: bool) -> list:
        if self.adapter is None:
            return method(requests, disable_tqdm=disable_tqdm)
        if self.strategy == "fewshot":
            for task in dict.fromkeys(r.task_name for r in requests):
                self._ensure_fewshot(task, requests)
        keys = self._plan(requests)
        results = [None] * len(requests)
        for key in dict.fromkeys(keys):  # distinct keys, first-seen order
            idx = [i for i, k in enumerate(keys) if k == key]
            start = time.perf_counter()
            with self.adapter.applied(self._expert_for(key)):
                self.swaps += key != BASE
                self.seconds["swap"] += time.perf_counter() - start
                outputs = method([requests[i] for i in idx], disable_tqdm=disable_tqdm)
            self.seconds["pass2"] += time.perf_counter() - start
            for i, out in zip(idx, outputs):
                results[i] = out
        return results

    def generate_until(self, requests, disable_tqdm: bool = False):
        return self._run(requests, self._generate, disable_tqdm)

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self._run(requests, super().loglikelihood_rolling, disable_tqdm)

    # ------------------------------------------------------------------ few-shot (CEM)
    def _ensure_fewshot(self, task: str, requests: list[Instance]) -> None:
        """Fit (or load the saved) mix for ``task`` before its requests are answered."""
        if task in self.fewshot:
            return
        chat = self._chat_mode([r for r in requests if r.task_name == task])
        path = self._fewshot_path(task, chat)
        if path.exists():
            log.info("fewshot: reusing the mix for %s from %s", task, path)
            self.fewshot[task] = load_expert(path)
            return
        self.fewshot[task] = self._fit_fewshot(task, chat)
        save_expert(self.fewshot[task], path)
        log.info("fewshot: saved the mix for %s to %s", task, path)

    def _fit_fewshot(self, task: str, chat: bool):
        experts = list(self.library.by_label.values())
        shots = FewShotSet.build(load_task(task), self.shots, self.seed,
                                 self.apply_chat_template if chat else None)
        bank = self.adapter.merged_bank(experts)
        shape = (len(experts),) if self.alpha_mode == "expert" else (len(experts), self.config.num_hidden_layers)

        def evaluate(alpha):
            start = time.perf_counter()
            self.adapter.apply_mix(bank, alpha)
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
        mix = mix_experts(experts, found.alpha, name=f"fewshot-{task}")
        mix.provenance.update(task=task, experts=[e.name for e in experts], shots=len(shots.docs),
                              split=shots.split, seed=self.seed,
                              score=found.score, tiebreak=found.tiebreak, cem=vars(self.cem_config),
                              chat_template=chat, history=found.history)
        return mix

    def _run_plain(self, request_type: str, instances: list[Instance]) -> list:
        """HFLM on the installed weights, no dispatch, no response cache."""
        with self._cache_hook_off():
            if request_type == "generate_until":
                return self._generate(instances, disable_tqdm=True)
            return getattr(HFLM, request_type)(self, instances, disable_tqdm=True)

    def _chat_mode(self, requests: list[Instance]) -> bool:
        """Were these requests rendered with the chat template (lm-eval's --apply_chat_template)?"""
        try:
            tail = self.apply_chat_template([{"role": "user", "content": "\x00"}]).split("\x00")[-1]
        except Exception:
            return False
        return bool(tail.strip()) and any(tail in str(r.args[0]) for r in requests)

    def _fewshot_path(self, task: str, chat: bool):
        from pathlib import Path

        settings = json.dumps([self.config_fingerprint(), task, self.shots, self.alpha_mode, chat,
                               vars(self.cem_config)], sort_keys=True)
        digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
        root = Path(self.fewshot_dir) if self.fewshot_dir else cache_root() / "fewshot" / model_slug(self.base_name)
        return root / f"{task}-{digest}.safetensors"

    # ------------------------------------------------------------------ lm-eval features
    def _detect_batch_size(self, requests=None, pos: int = 0):
        """batch_size=auto: detect once, then reuse for every expert group."""
        if self._auto_batch_size is None:
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
        """sha256 of everything that decides which weights answer a request."""
        config = {"base": self.base_name, "strategy": self.strategy, "pass1": PASS1_GEN,
                  "experts": sorted(e.fingerprint for e in self.library.experts.values())}
        if self.strategy == "fewshot":
            config.update(shots=self.shots, alpha=self.alpha_mode, cem=vars(self.cem_config))
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
    def get_model_info(self) -> dict:
        info = super().get_model_info()
        info["t2"] = {
            "base_model": self.base_name,
            "strategy": self.strategy,
            "experts_folder": str(self.library.folder) if self.library.folder else None,
            "experts": {name: _expert_info(e) for name, e in self.library.experts.items()},
            "adapt": self.adapt,
            "pass1_labels": {task: dict(c) for task, c in self.pass1_labels.items()},
            "pass1_decisions": self.pass1_decisions,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "expert_installs": self.swaps,
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


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be {' or '.join(repr(a) for a in allowed)}, got {value!r}")


def _majority_per_task(tasks: list[str], keys: list[str]) -> list[str]:
    """Replace each document's key by the most common key of its task."""
    counts: dict[str, Counter] = {}
    for task, key in zip(tasks, keys):
        counts.setdefault(task, Counter())[key] += 1
    return [counts[task].most_common(1)[0][0] for task in tasks]
