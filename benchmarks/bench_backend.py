"""Backend costs on the embedded model, measured side by side in one process.

  P1  --model t2 strategy=none vs --model hf: wall time of the same lm-eval run
  P2  strategy=prompt vs the oracle expert fixed (math -> math, humaneval_t2 -> code):
      total time, and pass 1 as a % of pass 2 (the paper's Table 3)
  P5  strategy=fewshot: CEM mixing time per candidate as a share of evaluating it

Run:  T2EVAL_DATA_DIR=../shared/datasets python benchmarks/bench_backend.py [--limit 16]
Experts: --experts DIR (default: random experts with labels math/code/reasoning, which
cost the same to apply as trained ones; their scores mean nothing).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def random_experts(folder: str) -> str:
    import torch

    from t2eval.models import load_model
    from t2eval.svf import decompose, ones_expert, save_expert

    model, _ = load_model()
    dec = decompose(model, "mlp", progress=False)
    gen = torch.Generator().manual_seed(0)
    for label in ("math", "code", "reasoning"):
        base = ones_expert(dec, "smollm2-135m-instruct", "mlp")
        z = {n: 1 + 0.05 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
        save_expert(base.with_z(z, name=label, label=label), f"{folder}/{label}.safetensors")
    return folder


def timed_eval(lm, task: str, limit: int, max_gen_toks: int) -> float:
    from lm_eval import simple_evaluate

    start = time.perf_counter()
    simple_evaluate(model=lm, tasks=[task], limit=limit, apply_chat_template=True,
                    gen_kwargs=f"max_gen_toks={max_gen_toks}", confirm_run_unsafe_code=True,
                    log_samples=False)
    return time.perf_counter() - start


def make_lm(kind: str, **args):
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM
    from t2eval.models import resolve_model_path

    if kind == "hf":
        return HFLM(pretrained=resolve_model_path(), device="cpu", batch_size=8)
    return T2LM(device="cpu", batch_size=8, **args)


def p1(limit: int) -> None:
    hf, t2 = make_lm("hf"), make_lm("t2", strategy="none")
    times = {"hf": [], "t2": []}
    for _ in range(2):  # interleaved
        for name, lm in (("hf", hf), ("t2", t2)):
            times[name].append(timed_eval(lm, "arc_easy_t2", limit, 8))
    hf_s, t2_s = min(times["hf"]), min(times["t2"])
    print(f"| P1 arc_easy_t2 x{limit} | hf {hf_s:.1f} s | t2 none {t2_s:.1f} s | t2/hf = {t2_s / hf_s:.3f} |")


def p2(experts: str, limit: int, tasks: tuple[str, ...] = ("math", "humaneval_t2")) -> None:
    oracles = {"math": "math", "humaneval_t2": "code"}
    for task, oracle, toks in ((t, oracles[t], 128) for t in tasks):
        prompt = make_lm("t2", strategy="prompt", experts=experts)
        total = timed_eval(prompt, task, limit, toks)
        fixed = make_lm("t2", strategy=oracle, experts=experts)
        oracle_total = timed_eval(fixed, task, limit, toks)
        s = prompt.seconds
        print(f"| P2 {task} x{limit} (max_gen_toks {toks}) | prompt {total:.1f} s "
              f"(pass 1 {s['pass1']:.1f} s = {100 * s['pass1'] / s['pass2']:.0f}% of pass 2 {s['pass2']:.1f} s; "
              f"labels {dict(prompt.pass1_labels.get(task, {}))}) | oracle '{oracle}' {oracle_total:.1f} s "
              f"| prompt/oracle = {total / oracle_total:.2f} |")


def p5(experts: str) -> None:
    with tempfile.TemporaryDirectory() as mixes:
        lm = make_lm("t2", strategy="fewshot", experts=experts, shots=3, population=4,
                     generations=2, fewshot_dir=mixes)
        timed_eval(lm, "arc_easy_t2", 2, 8)
    n = 4 * 2
    mix, ev = lm.record.seconds["cem_mix"] / n, lm.record.seconds["cem_eval"] / n
    print(f"| P5 fewshot CEM on arc_easy_t2 (3 shots, {n} candidates) | mix {1000 * mix:.0f} ms/candidate "
          f"| evaluate {1000 * ev:.0f} ms/candidate | mix share = {100 * mix / (mix + ev):.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--experts", default=None)
    parser.add_argument("--only", default="p1,p2,p5")
    parser.add_argument("--p2-tasks", default="math,humaneval_t2", help="P2's tasks (math, humaneval_t2)")
    args = parser.parse_args()
    import torch

    print(f"torch threads: {torch.get_num_threads()}, limit {args.limit}\n")
    experts = args.experts or random_experts(tempfile.mkdtemp(prefix="bench-experts-"))
    steps = {"p1": lambda: p1(args.limit), "p2": lambda: p2(experts, args.limit, tuple(args.p2_tasks.split(","))), "p5": lambda: p5(experts)}
    for name in args.only.split(","):
        steps[name]()


if __name__ == "__main__":
    main()
