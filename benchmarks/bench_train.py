"""P6: one SVF RL step vs one PEFT-LoRA (rank 16, q,v) RL step on the same batch.

Run:  python benchmarks/bench_train.py [--batch 8] [--prompt 128] [--response 128] [--repeats 3] [--threads 1]

One "RL step" is the update half of a REINFORCE step as `t2eval train` does it: the base
model's log-softmax on the sampled sequences (for the KL term), the adapted forward over
prompt + response, REINFORCE + lambda*KL loss, backward, gradient clipping, AdamW step.
Generation is left out (it is the same sampling for both, and the SVF weights are composed
once before it). Both methods see the same token ids, masks and rewards.

Time: median over --repeats steps after one warm-up step. Memory: peak resident set size
(psutil RSS, sampled every 1 ms by a thread) during the first (cold) step minus the RSS just
before it, each method in its own fresh subprocess, so one method's freed memory cannot be
reused by the other. Prints them side by side and the SVF / LoRA ratios. "SVF" is what
`t2eval train` runs (each matrix in factored form or recomposed, whichever costs fewer flops);
"SVF recomposed" recomposes W' for every matrix (the route before the factored one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time


class PeakRSS:
    """Peak RSS (bytes) above the level at entry, sampled by a thread."""

    def __enter__(self):
        import psutil

        self.proc, self.start, self.peak, self.done = psutil.Process(), 0, 0, False
        self.start = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.001)

    def __exit__(self, *exc):
        self.done = True
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def delta(self) -> int:
        return self.peak - self.start


def make_batch(model, batch: int, prompt: int, response: int):
    import torch

    from t2eval.train.rollout import Rollout

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch, prompt + response), generator=gen)
    attn = torch.ones_like(ids)
    resp = torch.zeros_like(ids)
    resp[:, prompt:] = 1
    rewards = torch.tensor([1.0 if i % 3 == 0 else -1.0 for i in range(batch)])
    return Rollout(ids, attn, resp, [""] * batch), rewards - rewards.mean()


METHODS = ("svf", "svf-recomposed", "lora")


def one_method(method: str, args) -> dict:
    import torch

    from t2eval.models import load_model
    from t2eval.train.objective import micro_loss, response_log_softmax

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, _ = load_model(args.model)
    batch, adv = make_batch(model, args.batch, args.prompt, args.response)
    tokens = batch.num_response_tokens

    if method in ("svf", "svf-recomposed"):
        from t2eval.svf import SVFAdapter, decompose

        dec = decompose(model, args.targets, progress=False)
        adapter = SVFAdapter(model, dec)
        z = {n: torch.nn.Parameter(torch.ones_like(f.S)) for n, f in dec.factors.items()}
        params = list(z.values())

        def base_ctx():
            return torch.no_grad()

        def train_ctx():
            return adapter.trainable(z, rescale=True, factored=False if method == "svf-recomposed" else None)
        policy = model
    else:
        from peft import LoraConfig, get_peft_model

        policy = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                  target_modules=["q_proj", "v_proj"]))
        params = [p for p in policy.parameters() if p.requires_grad]
        from contextlib import contextmanager, nullcontext

        @contextmanager
        def base_ctx():
            with torch.no_grad(), policy.disable_adapter():
                yield

        def train_ctx():
            return nullcontext()
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.0)

    def step():
        with base_ctx():
            base = response_log_softmax(policy, batch.input_ids, batch.attention_mask, batch.response_mask)[0]
        with train_ctx():
            loss, _ = micro_loss(policy, batch, adv, base, kl_coef=0.1, num_seqs=args.batch, num_tokens=tokens)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1e-3)
        opt.step()
        opt.zero_grad(set_to_none=True)

    with PeakRSS() as mem:
        start = time.perf_counter()
        step()
        cold = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"method": method, "trainable_params": sum(p.numel() for p in params), "cold_s": cold,
            "step_s": statistics.median(times), "peak_rss_delta_mb": mem.delta / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--targets", default="mlp", help="SVF targets (the shipped experts use mlp)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--response", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_method(args.one, args)))
        return
    rows = {}
    for method in METHODS:
        cmd = [sys.executable, __file__, "--one", method] + [f"--{k}={v}" for k, v in vars(args).items()
                                                             if k != "one"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows[method] = json.loads(out.strip().splitlines()[-1])
    svf, old, lora = rows["svf"], rows["svf-recomposed"], rows["lora"]
    print(f"# one RL update step (KL 0.1), batch {args.batch} x ({args.prompt} prompt + {args.response} response) "
          f"tokens, {args.model}, {args.threads} thread(s), memory = peak psutil RSS delta of the cold step")
    print(f"| | SVF (targets={args.targets}) | SVF recomposed | LoRA r=16 q,v | SVF / LoRA | SVF recomposed / LoRA |")
    print("|---|---|---|---|---|---|")

    def row(label, key, fmt, unit=""):
        cells = " | ".join(f"{r[key]:{fmt}}{unit}" for r in (svf, old, lora))
        print(f"| {label} | {cells} | {svf[key] / lora[key]:.3f} | {old[key] / lora[key]:.3f} |")
    row("trainable params", "trainable_params", ",")
    row(f"step time (median of {args.repeats})", "step_s", ".2f", " s")
    row("first (cold) step", "cold_s", ".2f", " s")
    row("peak memory (RSS delta)", "peak_rss_delta_mb", ".0f", " MiB")


if __name__ == "__main__":
    main()
