"""Make lm-eval's built-in tasks load local files offline (`t2eval data import`).

How it works. With ``HF_DATASETS_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``),
``datasets.load_dataset("allenai/ai2_arc", "ARC-Easy")`` (datasets >= 2.16, checked
against 5.2's ``load.py``) cannot reach the hub and falls back to
``CachedDatasetModuleFactory``: it looks in the datasets cache for a prepared
dataset at::

    <HF_DATASETS_CACHE>/<namespace>___<snake_case(name)>/<config>/<version>/<hash>/
        dataset_info.json              (its "config_name" must equal <config>)
        <snake_case(name)>-<split>.arrow

and, when several <version>/<hash> folders exist for the config, uses the most
recently modified one. `import_stock_tasks` writes exactly such folders, one per
hub config, from the local JSONL files, with the hub's features, version
``0.0.0`` and a hash ``t2eval-<16 hex digits of the source files' sha256>``.

Guarantees:
- idempotent: an entry whose hash matches the current source files is left alone
  ("up to date"); a changed source gets a new hash, and our older entries for the
  same config are removed after the new one is in place;
- atomic: each entry is written to a hidden temporary folder in the cache root
  (invisible to ``datasets``) and renamed into place; on any error the temporary
  folder is removed, so a half-written entry is never visible;
- the cache root honours ``HF_DATASETS_CACHE`` and ``HF_HOME`` like ``datasets``.

A real hub download of the same config (a folder with a commit hash) is not
touched; offline, ``datasets`` picks whichever of the two is newest.

Covered built-in lm-eval 0.4.13 tasks (`STOCK_TASKS`; every task whose YAML
reads one of the hub configs written here):

- allenai/ai2_arc ARC-Easy / ARC-Challenge: arc_easy, arc_challenge,
  arc_challenge_chat, arc_challenge_llama (and the tag ai2_arc);
- openai/gsm8k main: gsm8k, gsm8k_cot, gsm8k_cot_llama, gsm8k_cot_self_consistency,
  gsm8k_cot_zeroshot, gsm8k_llama;
- EleutherAI/hendrycks_math (7 configs): hendrycks_math_*, minerva_math_*,
  non_greedy_robustness_math_*, prompt_robustness_math_* (groups hendrycks_math,
  minerva_math);
- HuggingFaceH4/MATH-500 default: hendrycks_math500, minerva_math500;
- google-research-datasets/mbpp full: mbpp, mbpp_instruct (sanitized: no stock task).

Checked offline (tests/test_data_e2e.py): all of these build with the right number
of documents, except minerva_math* (needs the ``lm-eval[math]`` extras: sympy,
math_verify, antlr4-python3-runtime) and mbpp* (their metric module calls
``evaluate.load("code_eval")``, which needs the hub); their datasets load offline.
``lm_eval --model hf ... --tasks arc_easy,gsm8k`` runs end to end offline.
Not covered: leaderboard_math_*_hard (DigitalLearningGmbH/MATH-lighteval),
mbpp_plus (evalplus/mbppplus), gsm8k_platinum, tinyBenchmarks, translated variants.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
from datasets.arrow_writer import ArrowWriter
from datasets.naming import camelcase_to_snakecase, filenames_for_dataset_split

from t2eval.data.errors import CacheImportError, DataNotFoundError
from t2eval.data.loader import count_local_rows, get_spec, load_local_split, local_split_path
from t2eval.data.registry import DATASETS, STOCK_TASKS, DatasetSpec, HubConfig
from t2eval.models import file_sha256

IMPORT_FORMAT = 1  # bump when the written layout changes, so old entries get a new hash
HASH_PREFIX = "t2eval-"
CACHE_VERSION = "0.0.0"  # what datasets uses for hub (parquet/json) datasets
_TMP_PREFIX = ".t2eval-import-"
_INFO_FILE = "dataset_info.json"


@dataclass(frozen=True, eq=False)
class CacheTarget:
    """One hub config to write into the datasets cache.

    Attributes:
        spec: DatasetSpec, the t2eval dataset holding the rows.
        config: HubConfig, the hub config (and the row filter, for MATH).
    """

    spec: DatasetSpec
    config: HubConfig

    @property
    def hub_path(self) -> str:
        """str: hub repository id, e.g. ``"allenai/ai2_arc"``."""
        return self.spec.hub_path

    @property
    def dataset_name(self) -> str:
        """str: the name datasets uses in folder and file names, e.g. ``"ai2_arc"``, ``"math-500"``."""
        return camelcase_to_snakecase(self.hub_path.split("/")[-1])

    @property
    def cache_folder(self) -> str:
        """str: ``<namespace>___<dataset_name>``, the top folder in the cache."""
        return "___".join([*self.hub_path.split("/")[:-1], self.dataset_name])

    @property
    def tasks(self) -> tuple[str, ...]:
        """tuple[str, ...]: built-in lm-eval tasks that read this hub config."""
        return STOCK_TASKS.get((self.hub_path, self.config.name), ())

    @property
    def label(self) -> str:
        """str: ``"hub_path/config"`` for messages."""
        return f"{self.hub_path} [{self.config.name}]"


@dataclass
class ImportResult:
    """What `import_stock_tasks` did for one `CacheTarget`.

    Attributes:
        target: CacheTarget, the hub config.
        status: str, ``"written"``, ``"up to date"`` or ``"skipped"`` (source files missing).
        path: Path | None, the cache entry folder (None when skipped).
        rows: dict[str, int], rows per split in the entry.
        reason: str, why it was skipped ("" otherwise).
        removed: list[Path], older t2eval entries of this config that were removed.
    """

    target: CacheTarget
    status: str
    path: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    removed: list[Path] = field(default_factory=list)


def datasets_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path: the datasets cache root: `cache_dir` if given, else ``$HF_DATASETS_CACHE``,
    else ``$HF_HOME/datasets``, else datasets' default (``~/.cache/huggingface/datasets``)."""
    if cache_dir not in (None, ""):
        return Path(cache_dir).expanduser().absolute()
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser().absolute()
    if os.environ.get("HF_HOME"):
        return (Path(os.environ["HF_HOME"]).expanduser() / "datasets").absolute()
    return Path(datasets.config.HF_DATASETS_CACHE).expanduser().absolute()


def cache_targets(names: list[str] | tuple[str, ...] | None = None) -> list[CacheTarget]:
    """list[CacheTarget]: the hub configs of datasets `names` (default: all of `DATASETS`).

    Raises:
        UnknownDatasetError: a name is not in `DATASETS`.
    """
    specs = [get_spec(name) for name in names] if names else list(DATASETS.values())
    return [CacheTarget(spec, config) for spec in specs for config in spec.hub_configs]


def entry_hash(target: CacheTarget, file_digests: dict[str, str]) -> str:
    """str: ``t2eval-<16 hex>`` identifying `target` built from files with `file_digests` (split -> sha256)."""
    identity = {
        "format": IMPORT_FORMAT,
        "hub_path": target.hub_path,
        "config": target.config.name,
        "where": target.config.where,
        "features": target.spec.features.to_dict(),
        "files": file_digests,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return HASH_PREFIX + digest[:16]


def entry_dir(target: CacheTarget, cache_root: Path, hash_: str) -> Path:
    """Path: ``<cache_root>/<namespace>___<name>/<config>/0.0.0/<hash_>``."""
    return cache_root / target.cache_folder / target.config.name / CACHE_VERSION / hash_


def _split_file(folder: Path, target: CacheTarget, split: str) -> Path:
    """Path: the arrow file datasets reads for `split` of `target` in `folder`."""
    return Path(filenames_for_dataset_split(str(folder), target.dataset_name, split, filetype_suffix="arrow")[0])


def entry_is_complete(folder: Path, target: CacheTarget) -> bool:
    """bool: `folder` holds a readable dataset_info.json for `target`'s config and every split file."""
    try:
        info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("config_name") != target.config.name:
        return False
    return all(_split_file(folder, target, split).is_file() for split in target.spec.splits)


def _rows_in_entry(folder: Path) -> dict[str, int]:
    """dict[str, int]: split -> num_examples from the entry's dataset_info.json."""
    info = json.loads((folder / _INFO_FILE).read_text(encoding="utf-8"))
    return {name: split["num_examples"] for name, split in (info.get("splits") or {}).items()}


def _missing_files(spec: DatasetSpec, data_dir: Path) -> list[Path]:
    """list[Path]: local split files of `spec` that do not exist under `data_dir`."""
    paths = [local_split_path(spec, split, data_dir) for split in spec.splits]
    return [path for path in paths if not path.is_file()]


def _load_tables(spec: DatasetSpec, data_dir: Path, scratch: Path) -> dict[str, pa.Table]:
    """dict[str, pa.Table]: split -> all local rows of `spec`, typed with its hub features.

    The JSON parsing cache goes to `scratch` (Path), which the caller deletes."""
    return {
        split: load_local_split(spec, split, data_dir, cache_dir=scratch).with_format("arrow")[:]
        for split in spec.splits
    }


def _select_rows(table: pa.Table, config: HubConfig) -> pa.Table:
    """pa.Table: the rows of `table` that belong to hub config `config` (all rows if it has no filter)."""
    if config.where is None:
        return table
    column, value = config.where
    return table.filter(pc.equal(table[column], value))


def _write_split(folder: Path, target: CacheTarget, split: str, table: pa.Table) -> datasets.SplitInfo:
    """Write `table` as the arrow file of `split` in `folder`; return its datasets.SplitInfo."""
    writer = ArrowWriter(features=target.spec.features, path=str(_split_file(folder, target, split)))
    try:
        writer.write_table(table)
        num_examples, num_bytes = writer.finalize()
    finally:
        writer.close()
    return datasets.SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples,
                              dataset_name=target.dataset_name)


def _write_info(folder: Path, target: CacheTarget, split_infos: list[datasets.SplitInfo], source: Path) -> None:
    """Write dataset_info.json for `target` into `folder`, as datasets' hub builders do."""
    splits = datasets.SplitDict(dataset_name=target.dataset_name)
    for split_info in split_infos:
        splits.add(split_info)
    info = datasets.DatasetInfo(
        description=f"Imported by `t2eval data import` from {source} (hub id {target.hub_path}).",
        features=target.spec.features,
        builder_name="json",
        dataset_name=target.dataset_name,
        config_name=target.config.name,
        version=CACHE_VERSION,
        splits=splits,
    )
    info.write_to_directory(str(folder))


def _chmod_like_makedirs(folder: Path) -> None:
    """Give `folder` (made 0700 by mkdtemp) the mode os.makedirs would: 0777 minus the umask."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)


def _move_into_place(tmp: Path, final: Path, target: CacheTarget) -> None:
    """Rename the finished folder `tmp` to `final` (atomic); tolerate a concurrent identical import."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not entry_is_complete(final, target):
        shutil.rmtree(final)  # a damaged entry with our hash: replace it
    try:
        os.rename(tmp, final)
    except OSError:
        if not entry_is_complete(final, target):
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another process wrote the same entry first


def write_entry(target: CacheTarget, tables: dict[str, pa.Table], final: Path, cache_root: Path,
                source: Path) -> dict[str, int]:
    """Write the cache entry `final` (Path) of `target` from split tables, atomically.

    Args:
        target: CacheTarget, the hub config.
        tables: dict[str, pa.Table], split -> rows of the whole local file (filtered here).
        final: Path, the entry folder to create.
        cache_root: Path, the datasets cache root (the temporary folder is made there).
        source: Path, the data directory, recorded in the description.

    Returns:
        dict[str, int]: rows written per split.

    Raises:
        CacheImportError: writing failed; nothing is left behind.
    """
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=cache_root))
    try:
        _chmod_like_makedirs(tmp)
        infos = [_write_split(tmp, target, split, _select_rows(tables[split], target.config))
                 for split in target.spec.splits]
        _write_info(tmp, target, infos, source)
        _move_into_place(tmp, final, target)
    except Exception as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CacheImportError(
            f"could not write {target.label} into the datasets cache at {final}: {type(error).__name__}: {error}. "
            "Nothing was left behind; check that the cache directory is writable "
            "(set HF_DATASETS_CACHE or pass --cache-dir to use another one) and retry."
        ) from error
    return {info.name: info.num_examples for info in infos}


def _remove_older_entries(target: CacheTarget, keep: Path) -> list[Path]:
    """list[Path]: remove (and return) other t2eval entries of `target`'s config next to `keep`."""
    removed = []
    for other in keep.parent.glob(HASH_PREFIX + "*"):
        if other != keep and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other)
    return removed


def _import_spec(spec: DatasetSpec, data_dir: Path, cache_root: Path, force: bool) -> list[ImportResult]:
    """list[ImportResult]: import every hub config of `spec` from `data_dir` into `cache_root`."""
    targets = [CacheTarget(spec, config) for config in spec.hub_configs]
    missing = _missing_files(spec, data_dir)
    if missing:
        reason = "missing " + ", ".join(str(path) for path in missing)
        return [ImportResult(target, "skipped", reason=reason) for target in targets]
    digests = {split: file_sha256(local_split_path(spec, split, data_dir)) for split in spec.splits}
    results = [ImportResult(target, "up to date", entry_dir(target, cache_root, entry_hash(target, digests)))
               for target in targets]
    todo = [result for result in results if force or not entry_is_complete(result.path, result.target)]
    if todo:
        with tempfile.TemporaryDirectory(prefix=_TMP_PREFIX + "json-", dir=_ensure(cache_root)) as scratch:
            tables = _load_tables(spec, data_dir, Path(scratch))
            for result in todo:
                if result.path.exists():
                    shutil.rmtree(result.path)  # --force, or a damaged entry
                result.status = "written"
                write_entry(result.target, tables, result.path, cache_root, data_dir)
    for result in results:
        result.rows = _rows_in_entry(result.path)
        result.removed = _remove_older_entries(result.target, result.path)
    return results


def _ensure(folder: Path) -> Path:
    """Path: `folder`, created if needed."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def import_stock_tasks(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    names: list[str] | tuple[str, ...] | None = None,
    force: bool = False,
) -> list[ImportResult]:
    """Write local benchmark files into the datasets cache under their hub names.

    Afterwards, with ``HF_DATASETS_OFFLINE=1`` / ``HF_HUB_OFFLINE=1``,
    ``datasets.load_dataset(<hub id>, <config>)`` returns these rows, so the built-in
    lm-eval tasks in `STOCK_TASKS` run without network.

    Args:
        data_dir: str | os.PathLike, a directory laid out like ../shared/datasets.
        cache_dir: str | os.PathLike | None, datasets cache root (default: see `datasets_cache_dir`).
        names: list[str] | tuple[str, ...] | None, t2eval dataset names to import (default: all).
            Datasets whose files are missing are reported as "skipped".
        force: bool, rewrite entries even when they are up to date.

    Returns:
        list[ImportResult]: one per hub config, in `DATASETS` order.

    Raises:
        DataNotFoundError: `data_dir` is not a directory.
        UnknownDatasetError: a name in `names` is unknown.
        CacheImportError: an entry could not be written (nothing half-written remains).
    """
    source = Path(data_dir).expanduser().absolute()
    if not source.is_dir():
        raise DataNotFoundError(
            f"data directory {source} does not exist. Fix: pass a folder laid out like ../shared/datasets "
            "(gsm8k/, mbpp/, ai2_arc/ARC-Easy/, ...) to `t2eval data import DIR`."
        )
    cache_root = datasets_cache_dir(cache_dir)
    specs = [get_spec(name) for name in names] if names else list(DATASETS.values())
    return [result for spec in specs for result in _import_spec(spec, source, cache_root, force)]


def cache_status(target: CacheTarget, cache_root: Path) -> str:
    """str: what the datasets cache holds for `target`: ``"imported"`` (a complete t2eval
    entry), ``"hub download"`` (another prepared version, e.g. from the hub) or ``"none"``."""
    folders = [path for path in (cache_root / target.cache_folder / target.config.name).glob("*/*") if path.is_dir()]
    if any(path.name.startswith(HASH_PREFIX) and entry_is_complete(path, target) for path in folders):
        return "imported"
    if any(not path.name.startswith(HASH_PREFIX) for path in folders):
        return "hub download"
    return "none"


def cached_rows(target: CacheTarget, cache_root: Path) -> dict[str, int] | None:
    """dict[str, int] | None: split -> rows of the newest prepared cache entry of `target`
    (imported or downloaded), None when the cache holds none."""
    folders = [path for path in (cache_root / target.cache_folder / target.config.name).glob("*/*")
               if entry_is_complete(path, target)]
    if not folders:
        return None
    return _rows_in_entry(max(folders, key=lambda path: path.stat().st_mtime))


def local_row_counts(spec: DatasetSpec, data_dir: Path) -> dict[str, int | None]:
    """dict[str, int | None]: split -> rows in the local file (None if missing), without parsing JSON."""
    return {split: count_local_rows(spec, split, data_dir) for split in spec.splits}
