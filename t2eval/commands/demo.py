"""`t2eval demo`: Singular Value Fine-tuning on a real model, on a CPU, in about a minute."""

from __future__ import annotations

import time

import click

from ..models import DEFAULT_MODEL
PROMPT = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"


def _generate(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    import torch

    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                        add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def _logits(model, tokenizer):
    import torch

    ids = tokenizer([PROMPT], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(ids).logits


def _step(label: str, started: float) -> None:
    click.echo(f"  {label:<58} {time.perf_counter() - started:6.2f} s")


@click.command()
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True)
@click.option("--targets", default="mlp", show_default=True, help="mlp | attn | all | regex")
@click.option("--max-new-tokens", default=48, show_default=True)
def demo(model_name, targets, max_new_tokens):
    """Decompose a model, apply / mix / remove SVF experts, and check the invariants."""
    import torch

    from ..models import load_model, resolve_model_path
    from ..svf import SVFAdapter, decompose, mix_experts, ones_expert

    t = time.perf_counter()
    model, tokenizer = load_model(model_name)
    _step(f"loaded {model_name} from {resolve_model_path(model_name)}", t)
    t = time.perf_counter()
    dec = decompose(model, targets, progress=False)
    _step(f"SVD of {len(dec.names)} '{targets}' matrices: {dec.num_params} SVF params", t)
    adapter = SVFAdapter(model, dec)
    base_logits = _logits(model, tokenizer)
    identity = ones_expert(dec, model_name, targets)

    with adapter.applied(identity):
        diff = (_logits(model, tokenizer) - base_logits).abs().max().item()
    click.echo(f"  z = 1 reproduces the base model: max |logit diff| = {diff:.2e}")

    # An illustrative expert: amplify the top 10% singular directions of every matrix.
    boost = identity.with_z({n: torch.where(torch.arange(z.numel()) < z.numel() // 10, 1.2, 1.0)
                             for n, z in identity.z.items()}, name="top10-boost")
    click.echo(f"\n  base answer:    {_generate(model, tokenizer, PROMPT, max_new_tokens)!r}")
    t = time.perf_counter()
    with adapter.applied(boost):
        _step("applied expert 'top10-boost'", t)
        click.echo(f"  expert answer:  {_generate(model, tokenizer, PROMPT, max_new_tokens)!r}")
    restored = all(torch.equal(m.weight, w) for m, w in zip(adapter.modules.values(),
                                                            adapter.base_weights.values()))
    click.echo(f"\n  after removal, base weights bit-identical: {restored}")

    mix = mix_experts([identity, boost], torch.tensor([0.5, 0.5]))
    bank = adapter.merged_bank([identity, boost])
    with adapter.applied(mix):
        slow = _logits(model, tokenizer)
    adapter.apply_mix(bank, torch.tensor([0.5, 0.5]))
    fast = _logits(model, tokenizer)
    adapter.remove()
    click.echo(f"  mix 0.5/0.5: pre-merged fast path vs recomposed, max |logit diff| = "
               f"{(fast - slow).abs().max().item():.2e}")
    if diff > 1e-4 or not restored:
        raise click.ClickException("SVF invariants failed (see above)")
