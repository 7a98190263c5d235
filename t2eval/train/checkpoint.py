"""Atomic training checkpoints with every random-number-generator state, and the run folder.

A checkpoint is one ``torch.save`` file written to a temporary name, flushed to disk and
renamed over the previous one, so a ``kill -9`` at any moment leaves either the old or the
new checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_checkpoint(state: dict, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def load_checkpoint(path: str | Path) -> dict:
    return torch.load(Path(path), map_location="cpu", weights_only=False)


def changed_settings(saved: dict, mine: dict) -> list[str]:
    """``"key: old -> new"`` for every setting that differs between a checkpoint's and this run's."""
    return [f"{k}: {saved.get(k)!r} -> {mine.get(k)!r}" for k in sorted(set(saved) | set(mine))
            if saved.get(k) != mine.get(k)]


class RunFolder:
    """A training run's folder: ``config.json``, ``metrics.jsonl`` (one JSON record a line) and
    ``checkpoint.pt``. Only the main process (rank 0 of a data-parallel run) writes."""

    def __init__(self, path: str | Path, main: bool = True):
        self.path, self.main = Path(path), main
        self.checkpoint, self.metrics = self.path / "checkpoint.pt", self.path / "metrics.jsonl"

    def start(self, config: dict, metric_lines: int | None = None) -> None:
        """Write ``config``; a new run (``metric_lines`` None) starts an empty metrics file, a
        resumed one keeps its first ``metric_lines`` lines (those written before its checkpoint)."""
        if not self.main:
            return
        if metric_lines is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self.metrics.write_text("")
        else:
            lines = self.metrics.read_text().splitlines(keepends=True) if self.metrics.exists() else []
            self.metrics.write_text("".join(lines[:metric_lines]))
        (self.path / "config.json").write_text(json.dumps(config, indent=1) + "\n")

    def append(self, record: dict) -> None:
        if self.main:
            with open(self.metrics, "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def save(self, state: dict) -> None:
        if self.main:
            save_checkpoint(state, self.checkpoint)
