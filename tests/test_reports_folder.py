"""reports/ holds results, not dumps: per-document files are committed gzipped and read as
they are (plain or gzipped), every path the committed reports cite exists, and the folder stays
small."""

from __future__ import annotations

import glob
import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from t2eval.jsonl import read_json, read_jsonl, resolve, write_text
from t2eval.report.runs import collect, read_per_doc, read_results

REPO = Path(__file__).resolve().parents[1]
MAX_TRACKED_MB = 10


def _results(folder: Path, stamp: str, values: list[float]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"results": {"arc_easy_t2": {"alias": "arc_easy_t2", "exact_match,none": sum(values) / len(values)}},
            "higher_is_better": {"arc_easy_t2": {"exact_match": True}},
            "n-samples": {"arc_easy_t2": {"original": 1000, "effective": len(values)}},
            "config": {"model": "t2", "model_args": {"strategy": "none"}}, "date": float(stamp)}
    path = folder / f"results_{stamp}.json"
    path.write_text(json.dumps(data))
    rows = "".join(json.dumps({"doc_id": i, "exact_match": v, "resps": [["B"]]}) + "\n" for i, v in enumerate(values))
    (folder / f"samples_arc_easy_t2_{stamp}.jsonl").write_text(rows)
    return path


def _gzip(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    write_text(target, path.read_text())
    path.unlink()
    return target


def test_a_gzipped_samples_file_gives_the_same_records_as_the_plain_one(tmp_path, monkeypatch):
    monkeypatch.setattr("t2eval.report.runs.shipped_digest", lambda: None)
    values = [1.0, 0.0, 1.0, 1.0, 0.0]
    plain = _results(tmp_path / "plain", "1000", values)
    zipped = _results(tmp_path / "zipped", "1000", values)
    samples = zipped.with_name("samples_arc_easy_t2_1000.jsonl")
    rows = read_jsonl(samples)
    gz = _gzip(samples)
    assert gzip.decompress(gz.read_bytes()).decode() == "".join(json.dumps(r) + "\n" for r in rows)
    assert read_jsonl(gz) == rows
    assert resolve(samples) == gz and resolve(gz) == gz
    assert resolve(plain.with_name("samples_arc_easy_t2_1000.jsonl.gz")).name.endswith(".jsonl")
    expected = {i: v for i, v in enumerate(values)}
    assert read_per_doc(plain, "arc_easy_t2", "exact_match") == expected
    assert read_per_doc(zipped, "arc_easy_t2", "exact_match") == expected
    (a,), (b,) = read_results(plain), read_results(zipped)
    assert a.per_doc == b.per_doc == expected and a.value == b.value


def test_gzipping_is_reproducible(tmp_path):
    write_text(tmp_path / "a.jsonl.gz", '{"x": 1}\n')
    write_text(tmp_path / "b.jsonl.gz", '{"x": 1}\n')
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_collect_finds_gzipped_dispatch_samples_and_benchmark_details(tmp_path, monkeypatch):
    monkeypatch.setattr("t2eval.report.runs.shipped_digest", lambda: None)
    results = _results(tmp_path / "base", "1000", [1.0, 0.0])
    dispatch = results.with_name("samples_dispatch_t2_1000.jsonl")
    dispatch.write_text(json.dumps({"doc_id": 0, "target": "math", "resps": [["math"]]}) + "\n")
    gz = _gzip(dispatch)
    # a benchmark's <name>/<engine>/results_bench.json with its per-document <name>.json.gz
    bench = tmp_path / "bench" / "run" / "hf" / "results_bench.json"
    bench.parent.mkdir(parents=True)
    bench.write_text(json.dumps({"results": {"arc_easy": {"acc,none": 0.5}}, "higher_is_better": {"arc_easy": {"acc": True}},
                                 "n-samples": {"arc_easy": {"effective": 2}}, "config": {"model": "hf"}}))
    write_text(tmp_path / "bench" / "run.json.gz", json.dumps({"tasks_detail": {"arc_easy": {"acc": {"hf": [1.0, 0.0]}}}}))
    scores, _, samples = collect([tmp_path])
    assert samples == [gz]
    assert {s.task: s.per_doc for s in scores} == {"arc_easy_t2": {0: 1.0, 1: 0.0}, "arc_easy": {0: 1.0, 1: 0.0}}
    assert read_json(tmp_path / "bench" / "run.json.gz")["tasks_detail"]["arc_easy"]["acc"]["hf"] == [1.0, 0.0]


# ---- the committed reports/ folder ------------------------------------------------------------

PATH = re.compile(r"(?<![\w./<>-])((?:reports|experts)/[\w.*{},/+-]*)")


def _cited(text: str) -> list[str]:
    """Paths into reports/ or experts/ the text cites (fenced code blocks, which hold example
    commands with placeholder outputs, left out)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [m.rstrip(".,;:") for m in PATH.findall(text)]


def _expand(path: str) -> list[str]:
    brace = re.search(r"\{([^{}]*)\}", path)
    if brace:
        return [p for alt in brace.group(1).split(",")
                for p in _expand(path[:brace.start()] + alt + path[brace.end():])]
    return [path]


def _exists(path: str) -> bool:
    return any(glob.glob(str(REPO / p)) if "*" in p else (REPO / p).exists() for p in _expand(path))


DOCS = ["README.md", "reports/*.md", "experts/README.md", "experts/*/README*.md"]


def test_every_path_the_committed_reports_cite_exists():
    docs = sorted({p for pattern in DOCS for p in REPO.glob(pattern)})
    assert REPO / "reports" / "paper_tables.md" in docs
    missing = [f"{doc.relative_to(REPO)}: {path}" for doc in docs for path in _cited(doc.read_text())
               if not _exists(path)]
    assert not missing, "cited but not there:\n" + "\n".join(missing)


def test_the_cited_path_parser():
    text = "see `reports/runs/pass1/arc_{easy,challenge}_full.json.gz`, reports/training.md.\n" \
           "```\nt2eval report -o reports/not_there.png\n```\nmy-experts/x.safetensors"
    assert _cited(text) == ["reports/runs/pass1/arc_{easy,challenge}_full.json.gz", "reports/training.md"]
    assert _expand("a/{b,c}_{d,e}") == ["a/b_d", "a/b_e", "a/c_d", "a/c_e"]


def _committed_files() -> list[Path]:
    """Files under reports/ that git tracks or would add (untracked, not ignored)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "reports"],
                         cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [REPO / name for name in sorted(set(out.split("\0"))) if name and (REPO / name).is_file()]


def test_reports_stay_small_and_hold_no_raw_dumps():
    files = _committed_files()
    total = sum(p.stat().st_size for p in files)
    assert total <= MAX_TRACKED_MB * 2**20, f"reports/ holds {total / 2**20:.1f} MB (limit {MAX_TRACKED_MB} MB)"
    raw = [str(p.relative_to(REPO)) for p in files
           if re.fullmatch(r"(samples_|t2_decisions_).*\.jsonl", p.name)]
    assert not raw, "commit per-document logs gzipped (gzip -n -9 FILE):\n" + "\n".join(raw)
    accidental = sorted({str(p.parent.relative_to(REPO)) for p in files
                         if re.search(r"(_v\d+|_old|_new|_tmp)$", p.parent.name)})
    assert not accidental, "name folders by what they hold:\n" + "\n".join(accidental)
