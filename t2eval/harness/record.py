"""What a ``--model t2`` run records and reports: every document's pass-1 decision and the
weights that answered it, expert installs, seconds per phase and per task (gathered across
data-parallel ranks), the run summary, the results file's ``t2`` block, and the configuration
fingerprint that keys caches."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunRecord:
    """Counters of one process; ``ranks`` holds every rank's copy after a data-parallel barrier."""

    installs: int = 0  # expert installs (not counting base)
    pass1_details: dict[str, dict[int, dict]] = field(default_factory=dict)  # task -> doc_id -> record
    seconds: Counter = field(default_factory=Counter)  # pass1, pass2, swap, cem_mix, cem_eval
    per_task: dict[str, Counter] = field(default_factory=dict)  # task -> installs / pass1 / pass2 seconds
    chat_wrapped: set[str] = field(default_factory=set)  # tasks whose prompts chat=auto wrapped
    ranks: list[dict] = field(default_factory=list)

    def add_pass1(self, reqs: list, decisions: list, elapsed: float) -> None:
        self.seconds["pass1"] += elapsed
        for req, decision in zip(reqs, decisions):
            self.pass1_details.setdefault(req.task_name or "?", {})[req.doc_id] = decision.record()
        for task, n in Counter(r.task_name or "?" for r in reqs).items():
            self.per_task.setdefault(task, Counter())["pass1_s"] += elapsed * n / len(reqs)

    def add_weights(self, by_doc: dict[tuple, str]) -> None:
        """Which weights answered each classified document."""
        for (task, doc_id), key in by_doc.items():
            record = self.pass1_details.get(task or "?", {}).get(doc_id)
            if record is not None:
                record["weights"] = key

    def add_pass2(self, key: str, reqs: list, elapsed: float) -> None:
        self.seconds["pass2"] += elapsed
        for task, n in Counter(r.task_name or "?" for r in reqs).items():
            counts = self.per_task.setdefault(task, Counter())
            counts["pass2_s"] += elapsed * n / len(reqs)
            counts[f"installs:{key}"] += 1

    def rank_record(self, rank: int) -> dict:
        return {"rank": rank, "pass1_details": self.pass1_details, "expert_installs": self.installs,
                "seconds": _rounded(self.seconds), "per_task": {t: _rounded(c) for t, c in self.per_task.items()},
                "chat_wrapped_tasks": sorted(self.chat_wrapped)}

    def all_pass1_details(self) -> dict[str, dict[int, dict]]:
        """Every document's pass-1 record: this process's, or all ranks' after a data-parallel run."""
        if not self.ranks:
            return self.pass1_details
        merged: dict[str, dict[int, dict]] = {}
        for record in self.ranks:
            for task, docs in record["pass1_details"].items():
                merged.setdefault(task, {}).update(docs)
        return {task: dict(sorted(docs.items())) for task, docs in merged.items()}

    @property
    def pass1_decisions(self) -> dict[str, dict[int, str]]:
        """task -> doc_id -> pass-1 label."""
        return {task: {doc: r["label"] for doc, r in docs.items()} for task, docs in self.all_pass1_details().items()}

    @property
    def pass1_labels(self) -> dict[str, Counter]:
        """task -> how many documents got each pass-1 label."""
        return {task: Counter(r["label"] for r in docs.values()) for task, docs in self.all_pass1_details().items()}

    def summary(self) -> str:
        """Per task: pass-1 labels, expert installs, pass-1 and pass-2 seconds."""
        lines = []
        for task, c in self.per_task.items():
            labels = ", ".join(f"{k} {v}" for k, v in self.pass1_labels.get(task, Counter()).most_common())
            installs = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in c.items() if k.startswith("installs:"))
            lines.append(f"  {task}: pass 1 {c['pass1_s']:.1f} s{f' [{labels}]' if labels else ''}; "
                         f"pass 2 {c['pass2_s']:.1f} s, weights used: {installs or 'base'}")
        return "\n".join(lines)

    def info(self, world_size: int) -> dict:
        """The record's part of the results file's ``t2`` block."""
        return {
            "chat_wrapped_tasks": sorted(self.chat_wrapped),
            "pass1_labels": {task: dict(c) for task, c in self.pass1_labels.items()},
            "pass1_decisions": self.pass1_decisions,
            "pass1_details": self.all_pass1_details(),
            "seconds": _rounded(self.seconds),
            "per_task": {task: _rounded(c) for task, c in self.per_task.items()},
            "expert_installs": self.installs,
            "data_parallel": {"world_size": world_size, "ranks": [
                {k: v for k, v in r.items() if k != "pass1_details"} for r in self.ranks]} if self.ranks else None,
        }


def _rounded(counter) -> dict:
    return {k: round(v, 3) for k, v in counter.items()}


def expert_info(expert) -> dict:
    """What a results file records of an expert: enough to say which weights answered."""
    prov = expert.provenance or {}
    return {"label": expert.label, "fingerprint": expert.fingerprint, "targets": expert.targets,
            "base_model": expert.base_model, "params": expert.num_params, "kind": prov.get("kind"),
            "objective": prov.get("objective"), "trained_on": prov.get("task"), "kl": prov.get("kl")}


def fewshot_info(mixes: dict) -> dict:
    """task -> what a fitted few-shot mix was (alpha, experts, shots, split, score)."""
    return {task: {"alpha": m.provenance["alpha"], "experts": m.provenance.get("experts"),
                   "fingerprint": m.fingerprint, "shots": m.provenance.get("shots"),
                   "split": m.provenance.get("split"), "score": m.provenance.get("score")}
            for task, m in mixes.items()}


def config_fingerprint(args, strategy, pass1, library) -> str:
    """sha256 of everything that decides which weights answer a request (and how it is asked)."""
    config = {"base": args.pretrained, **strategy.fingerprint(),
              "pass1": {**pass1.fingerprint(), "options": args.pass1_options},
              "allow_foreign": args.allow_foreign, "chat": args.chat, "share_context": args.share_context,
              "experts": sorted(e.fingerprint for e in library.experts.values())}
    if args.guard:  # a guarded run may answer with other weights
        config["guard"] = {"shots": args.guard_shots, "seed": args.seed}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


CACHE_KEY = "__t2eval_config__"


def claim_cache(dbdict, fingerprint: str) -> None:
    """``--use_cache``: the cache is keyed on request text only, so one cache file may only ever
    hold answers of one t2 configuration; a mismatch stops the run."""
    theirs = dbdict.get(CACHE_KEY)
    if theirs is None and len(dbdict) > 0:
        raise RuntimeError(f"--use_cache file {dbdict.filename} holds answers of another model "
                           "(not written by t2); give t2 its own cache path")
    if theirs not in (None, fingerprint):
        raise RuntimeError(f"--use_cache file {dbdict.filename} holds answers of a different t2 "
                           f"configuration (experts/strategy/base model; {theirs[:12]} != {fingerprint[:12]}); "
                           "use one cache path per configuration")
    dbdict[CACHE_KEY] = fingerprint
