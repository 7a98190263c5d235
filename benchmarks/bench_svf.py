"""SVF cost on the embedded model, each as a ratio to one forward pass of a 16x512 batch.

Run:  python benchmarks/bench_svf.py [--targets mlp] [--repeats 3]
Prints a markdown table; the numbers are medians measured side by side in one process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--targets", default="mlp")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from t2eval.models import load_model
    from t2eval.svf import SVFAdapter, decompose, ones_expert

    model, _ = load_model(args.model)
    batch = torch.randint(0, model.config.vocab_size, (16, 512), generator=torch.Generator().manual_seed(0))
    cache = tempfile.mkdtemp(prefix="bench-svd-")

    def forward():
        with torch.no_grad():
            model(batch)

    forward()  # warm-up
    rows = {"forward 16x512 (reference)": median_time(forward, args.repeats)}
    rows["SVD decomposition (no cache)"] = median_time(
        lambda: decompose(model, args.targets, use_cache=False, progress=False), 1)
    dec = decompose(model, args.targets, cache_dir=cache, progress=False)
    rows["SVD cache load (incl. fingerprint + spot check)"] = median_time(
        lambda: decompose(model, args.targets, cache_dir=cache, progress=False), args.repeats)

    adapter = SVFAdapter(model, dec)
    gen = torch.Generator().manual_seed(0)
    identity = ones_expert(dec, args.model, args.targets)
    experts = [identity.with_z({n: 1 + 0.1 * torch.randn(v.shape, generator=gen) for n, v in identity.z.items()},
                               name=f"e{k}") for k in range(2)]

    def apply_from_base():
        adapter.remove()
        adapter.apply(experts[0])

    rows["expert apply (base -> expert)"] = median_time(apply_from_base, args.repeats)
    state = {"k": 0}

    def switch():
        state["k"] ^= 1
        adapter.apply(experts[state["k"]])

    rows["expert switch (expert -> expert)"] = median_time(switch, args.repeats)
    adapter.apply(experts[0])
    rows["expert remove (restore base tensors)"] = median_time(adapter.remove, 1)
    bank = adapter.merged_bank(experts)
    rows["mix of 2 experts, pre-merged fast path"] = median_time(
        lambda: adapter.apply_mix(bank, torch.tensor([0.4, 0.6])), args.repeats)
    adapter.remove()

    ref = rows["forward 16x512 (reference)"]
    print(f"model={args.model} targets={args.targets} matrices={len(dec.names)} "
          f"svf_params={dec.num_params} threads={torch.get_num_threads()} repeats={args.repeats}\n")
    print("| step | seconds | ratio to forward |")
    print("|---|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.3f} | {seconds / ref:.2f} |")


if __name__ == "__main__":
    main()
