"""One ``--objective choice`` update (forward + backward through z) on real ARC-Easy training
documents: each document's context run once (``share_context``) vs one full row per choice,
side by side in one process, alternating, on the embedded model.

Run:  HF_DATASETS_OFFLINE=1 python benchmarks/bench_choice.py --task arc_easy --docs 16 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="arc_easy")
    parser.add_argument("--docs", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from t2eval.models import load_model
    from t2eval.svf import SVFAdapter, decompose
    from t2eval.train import build_task
    from t2eval.train.choice import choice_scores

    torch.set_num_threads(args.threads)
    model, tok = load_model()
    task = build_task(args.task)
    items = [task.choice(d, tok) for d in task.train_docs[:args.docs]]
    adapter = SVFAdapter(model, decompose(model, "mlp", progress=False))
    z = {n: torch.nn.Parameter(torch.ones_like(f.S)) for n, f in adapter.decomposition.factors.items()}
    times = {True: [], False: []}
    for _ in range(args.repeats):
        for share in (True, False):
            start = time.perf_counter()
            with adapter.trainable(z):
                scores = choice_scores(model, tok, items, share_context=share)
                scores[torch.isfinite(scores)].sum().backward()
            times[share].append(time.perf_counter() - start)
    shared, rows = statistics.median(times[True]), statistics.median(times[False])
    print(f"{args.task}, {args.docs} documents, {args.threads} thread(s), median of {args.repeats}: "
          f"shared contexts {shared:.2f} s, full rows {rows:.2f} s, shared / rows = {shared / rows:.2f}")


if __name__ == "__main__":
    main()
