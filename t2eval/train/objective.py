"""The training objectives' math, on the exact sampled token ids (the objectives themselves,
registered by name, are in :mod:`t2eval.train.objectives`).

RL (the paper):  J(z) = E[ log pi_W'(y|x) * r ] - lambda * KL(pi_W' || pi_W)
  * log pi_W'(y|x): sum (``logp=sum``, default) or mean (``logp=mean``) over the response
    tokens of the log-probabilities of the sampled ids under the adapted weights W';
  * KL: token level, over the whole vocabulary, at every response position of the sampled
    sequences: sum_v p_W'(v) * (log p_W'(v) - log p_W(v)), averaged over the response tokens
    of the batch; p_W is the base model (expert removed).
SFT (the paper's ablation): mean negative log-likelihood of the reference answer tokens
(plus the same KL term when lambda > 0).

Micro-batches contribute exactly their share of the batch loss (the policy term is divided
by the number of sequences of the whole batch, the KL / NLL by its number of response
tokens), so gradient accumulation gives the same update as one big batch.
"""

from __future__ import annotations

import torch

from .rollout import position_ids, teacher_forced


def response_log_softmax(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         response_mask: torch.Tensor, temperature: float = 1.0):
    """Log-softmax over the vocabulary at each response token's position.

    Returns ``(log_probs (N, V), token_ids (N,), row (N,))`` for the N response tokens
    (row-major order): ``log_probs[k]`` is the model's distribution for token ``token_ids[k]``
    of sequence ``row[k]``. Only response positions go through the LM head.
    """
    decoder = model.get_decoder()
    hidden = decoder(input_ids=input_ids, attention_mask=attention_mask,
                     position_ids=position_ids(attention_mask), use_cache=False).last_hidden_state
    chosen = response_mask[:, 1:].bool()                # token t is predicted at position t-1
    states = hidden[:, :-1][chosen]
    logits = model.get_output_embeddings()(states).float()
    if temperature != 1.0:
        logits = logits / temperature
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(chosen)[chosen]
    return torch.log_softmax(logits, dim=-1), input_ids[:, 1:][chosen], rows


def kl_per_token(log_p_new: torch.Tensor, log_p_base: torch.Tensor) -> torch.Tensor:
    """KL(p_new || p_base) per row: sum_v p_new * (log p_new - log p_base)."""
    return (log_p_new.exp() * (log_p_new - log_p_base)).sum(-1)


def sequence_logp(token_logp: torch.Tensor, rows: torch.Tensor, num_rows: int, reduce: str) -> torch.Tensor:
    """Per-sequence sum (or mean) of token log-probabilities."""
    total = torch.zeros(num_rows, dtype=token_logp.dtype, device=token_logp.device).index_add(0, rows, token_logp)
    if reduce == "mean":
        counts = torch.bincount(rows, minlength=num_rows).clamp(min=1).to(total.dtype)
        total = total / counts
    return total


def rl_advantages(rewards: torch.Tensor, baseline: str, samples: int = 1,
                  batch_mean: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantage, kept) per sample. ``none``: the reward; ``mean``: minus the batch mean
    (``batch_mean``: the global batch's, when ``rewards`` is one data-parallel rank's shard);
    ``loo``: minus the mean of the other samples of the same prompt (groups of ``samples``
    consecutive rows), and a group whose rewards are all equal is not kept (zero advantage:
    no policy signal)."""
    keep = torch.ones_like(rewards, dtype=torch.bool)
    if baseline == "mean":
        return rewards - (rewards.mean() if batch_mean is None else batch_mean), keep
    if baseline != "loo":
        return rewards, keep
    groups = rewards.view(-1, samples)
    others = (groups.sum(1, keepdim=True) - groups) / (samples - 1)
    flat = (groups == groups[:, :1]).all(1, keepdim=True).expand_as(groups)
    return (groups - others).flatten(), ~flat.flatten()


def micro_loss(model, batch, advantages: torch.Tensor | None, base_log_probs: torch.Tensor | None,
               *, kl_coef: float, num_seqs: int, num_tokens: int, logp: str = "sum",
               temperature: float = 1.0, kl_norm: str = "per_token") -> tuple[torch.Tensor, dict]:
    """Loss (to minimise) of one micro-batch and its summed statistics.

    ``batch``: a Rollout; ``advantages`` (B_micro,): rewards (minus a baseline): the REINFORCE
    term (RL); None: the mean NLL of the batch's response tokens (SFT, on reference answers);
    ``base_log_probs``: the base model's ``response_log_softmax`` on the same batch (needed
    when ``kl_coef > 0``; used for logging otherwise). ``kl_norm``: the KL summed over the
    update's tokens divided by its token count (``per_token``) or by its sequence count
    (``per_sequence``, the reference's scale).
    """
    log_probs, ids, rows = response_log_softmax(model, batch.input_ids, batch.attention_mask,
                                                batch.response_mask, temperature)
    token_logp = log_probs.gather(-1, ids[:, None]).squeeze(-1)
    if advantages is not None:
        seq = sequence_logp(token_logp, rows, batch.input_ids.shape[0], logp)
        loss = -(advantages.to(seq.dtype) * seq).sum() / num_seqs
    else:
        loss = -token_logp.sum() / num_tokens
    stats = {"nll_sum": float(-token_logp.detach().sum()), "tokens": int(ids.numel())}
    if base_log_probs is not None:
        kl = kl_per_token(log_probs, base_log_probs)
        stats["kl_sum"] = float(kl.detach().sum())
        if kl_coef > 0:
            loss = loss + kl_coef * kl.sum() / (num_seqs if kl_norm == "per_sequence" else num_tokens)
    return loss, stats


def reference_nll(model, tokenizer, task, docs: list[dict], batch: int = 8) -> float:
    """Mean per-token NLL of ``task.reference(doc)`` after the task's own prompt, over ``docs``
    (validation tie-breaks in training; the quality gate's sensitive bound)."""
    total, count = reference_nll_sums(model, tokenizer, task, docs, batch)
    return total / max(1, count)


@torch.no_grad()
def reference_nll_sums(model, tokenizer, task, docs: list[dict], batch: int = 8) -> tuple[float, int]:
    """(summed NLL, token count) of :func:`reference_nll` (sums combine across data-parallel ranks)."""
    total, count = 0.0, 0
    for i in range(0, len(docs), batch):
        chunk = docs[i:i + batch]
        rows = teacher_forced(tokenizer, [task.render(d, tokenizer) for d in chunk],
                              [task.reference(d) for d in chunk], next(model.parameters()).device)
        log_probs, ids, _ = response_log_softmax(model, rows.input_ids, rows.attention_mask, rows.response_mask)
        total -= float(log_probs.gather(-1, ids[:, None]).sum())
        count += ids.numel()
    return total, count
