"""Read JSON / JSON Lines files that may be gzipped (``x.jsonl`` or ``x.jsonl.gz``).

Committed per-document files (lm-eval's ``samples_*.jsonl``, ``t2_decisions_*.jsonl``, the
benchmarks' per-document ``<name>.json``) are kept gzipped under ``reports/``; fresh output is
plain. Readers of such files go through this module, so both forms work everywhere.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import IO, Any

GZ = ".gz"


def plain_name(path: str | Path) -> str:
    """The file name without a trailing ``.gz``."""
    return Path(path).name.removesuffix(GZ)


def resolve(path: str | Path) -> Path | None:
    """``path`` if it exists, else its gzipped (or, for a ``.gz`` name, plain) twin; None: neither."""
    path = Path(path)
    twin = path.with_name(path.name.removesuffix(GZ)) if path.name.endswith(GZ) else path.with_name(path.name + GZ)
    return next((p for p in (path, twin) if p.is_file()), None)


def open_text(path: str | Path) -> IO[str]:
    """The file for reading as UTF-8 text, through gzip when its name ends with ``.gz``."""
    path = Path(path)
    if path.name.endswith(GZ):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_text(path: str | Path) -> str:
    with open_text(path) as f:
        return f.read()


def read_json(path: str | Path) -> Any:
    return json.loads(read_text(path))


def read_jsonl(path: str | Path) -> list[dict]:
    """One object per non-empty line."""
    with open_text(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (gzipped when the name ends with ``.gz``: no name or time in the header,
    so the same text gives the same bytes)."""
    path = Path(path)
    data = text.encode("utf-8")
    if path.name.endswith(GZ):
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as f:
            f.write(data)
        data = buffer.getvalue()
    path.write_bytes(data)
