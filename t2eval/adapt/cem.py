"""The cross-entropy method (CEM) over mixing weights alpha (strategy C of the paper).

Each generation samples ``population`` candidates from N(mean, std^2), keeps the current
mean as one of them (so the best-so-far never gets lost), scores them, and refits mean
and std to the elite fraction. Candidates are compared by ``(score, tiebreak)``: the
paper breaks ties in score by the highest mean log-likelihood of the candidate's own
correct answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..names import did_you_mean

log = logging.getLogger(__name__)


@dataclass
class CEMConfig:
    """CEM settings. Defaults are the ``cpu`` preset (a small search that fits a 2-core
    machine); the reference implementation's are the ``reference`` preset: population 32,
    elite ratio 0.2, initial std 0.5. Both clamp every candidate to [0, 1] before
    normalising, as the reference does."""

    population: int = 8
    generations: int = 4
    elite_ratio: float = 0.25
    init_std: float = 0.3
    min_std: float = 0.01
    normalize: bool = True  # project every candidate onto sum_k alpha_k = 1 (per layer)
    seed: int = 0


PRESETS = {
    "cpu": {"population": 8, "elite_ratio": 0.25, "init_std": 0.3, "generations": 4},
    "reference": {"population": 32, "elite_ratio": 0.2, "init_std": 0.5, "generations": 4},
}


def cem_config(preset: str = "cpu", seed: int = 0, normalize: bool = True, **overrides) -> CEMConfig:
    """A preset's settings with ``overrides`` (None values are ignored) on top."""
    if preset not in PRESETS:
        raise ValueError(f"unknown CEM preset {preset!r}{did_you_mean(preset, PRESETS)} valid: {', '.join(PRESETS)}")
    settings = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return CEMConfig(int(settings["population"]), int(settings["generations"]), float(settings["elite_ratio"]),
                     float(settings["init_std"]), normalize=normalize, seed=int(seed))


@dataclass
class CEMResult:
    alpha: torch.Tensor  # (K,) or (K, L)
    score: float
    tiebreak: float
    history: list[dict] = field(default_factory=list)  # one record per generation


def _project(alpha: torch.Tensor, normalize: bool) -> torch.Tensor:
    """Clamp to [0, 1], then normalise over the expert dimension (dim 0); where every weight
    was clamped to 0 the uniform mix 1/K stands in."""
    alpha = alpha.clamp(0.0, 1.0)
    if not normalize:
        return alpha
    total = alpha.sum(dim=0, keepdim=True)
    uniform = torch.full_like(alpha, 1.0 / alpha.shape[0])
    return torch.where(total > 1e-6, alpha / total.clamp_min(1e-6), uniform)


def cem_search(evaluate: Callable[[torch.Tensor], tuple[float, float]], shape: tuple[int, ...],
               config: CEMConfig, report: Callable[[dict], None] | None = None,
               progress: str | None = None) -> CEMResult:
    """Maximise ``evaluate(alpha) -> (score, tiebreak)`` over alpha of ``shape``.

    The search starts from the uniform mix 1/K (K = shape[0]). ``progress``: the title of a
    progress bar over all candidate evaluations (None: no bar).
    """
    from tqdm import tqdm

    bar = tqdm(total=config.generations * config.population, desc=progress, disable=progress is None)
    gen = torch.Generator().manual_seed(config.seed)
    mean = torch.full(shape, 1.0 / shape[0])
    std = torch.full(shape, config.init_std)
    n_elite = max(1, round(config.elite_ratio * config.population))
    best = CEMResult(mean, float("-inf"), float("-inf"))
    for generation in range(config.generations):
        noise = torch.randn((config.population - 1, *shape), generator=gen)
        candidates = torch.cat([mean[None], mean + std * noise])
        candidates = torch.stack([_project(c, config.normalize) for c in candidates])
        scored = []
        for i, c in enumerate(candidates):
            scored.append((*evaluate(c), i))
            bar.update(1)
        ranked = sorted(scored, key=lambda s: (s[0], s[1]), reverse=True)
        elite = candidates[[i for *_, i in ranked[:n_elite]]]
        mean, std = elite.mean(0), elite.std(0, unbiased=False).clamp_min(config.min_std)
        top_score, top_tie, top_i = ranked[0]
        if (top_score, top_tie) > (best.score, best.tiebreak):
            best = CEMResult(candidates[top_i].clone(), top_score, top_tie, best.history)
        record = {"generation": generation, "best_score": top_score, "best_tiebreak": top_tie,
                  "elite_mean_score": sum(s[0] for s in ranked[:n_elite]) / n_elite,
                  "population_mean_score": sum(s[0] for s in scored) / len(scored),
                  "best_alpha": candidates[top_i].tolist()}
        best.history.append(record)
        log.info("CEM generation %d: best %.4f (tiebreak %.4f), elite mean %.4f",
                 generation, top_score, top_tie, record["elite_mean_score"])
        bar.set_postfix(generation=generation, best=f"{best.score:.3f}", elite=f"{record['elite_mean_score']:.3f}")
        if report:
            report(record)
    bar.close()
    return best
