"""Summed log-probabilities of short continuations after many prompts that share a prefix.

Pass 1 in score mode asks, for every document, log p(label + "}" | prompt) for the four
labels. The prompts share the whole instruction text, so:

1. the token prefix common to every prompt runs once; its KV cache is copied into each batch;
2. each batch runs only its documents' own suffix tokens (right-padded), once per document:
   the logits at its last token give every label's first token; one multi-token label's
   further tokens ride along at the end of the row (causal attention keeps the other
   labels' logits unchanged);
3. the further tokens of any other multi-token label run as one short batch over
   (document, label) rows on that cache, the ridden-along tokens masked out.

Per document that is its suffix plus a few label tokens, instead of four full prompts.
``share_prefix=False`` skips step 1 (the whole prompt is the suffix): the same numbers, for
checking and for models whose cache cannot be copied.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from tqdm import tqdm


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all ``seqs`` share, leaving each at least one token."""
    if not seqs:
        return 0
    first, limit = seqs[0], min(len(s) for s in seqs) - 1
    n = 0
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


def continuation_logprobs(model, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]],
                          batch_size: int = 8, share_prefix: bool = True, pad_id: int = 0,
                          progress: str | None = None) -> list[list[float]]:
    """``out[i][j] = sum_t log p(continuations[i][j][t] | prompts[i], continuations[i][j][:t])``.

    Args:
        model: a causal LM (transformers) whose cache supports ``batch_repeat_interleave``.
        prompts: token ids per document.
        continuations: per document, token ids of each continuation (each non-empty).
        batch_size: documents per forward pass.
        share_prefix: run the prefix common to all prompts once and reuse its KV cache.
        progress: title of a progress bar over documents (None: no bar).
    """
    scored = continuation_scores(model, prompts, continuations, batch_size, share_prefix, pad_id, progress)
    return [[logp for logp, _ in row] for row in scored]


@torch.no_grad()
def continuation_scores(model, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]],
                        batch_size: int = 8, share_prefix: bool = True, pad_id: int = 0,
                        progress: str | None = None) -> list[list[tuple[float, bool]]]:
    """Like :func:`continuation_logprobs`, with lm-eval's ``is_greedy`` for each continuation:
    ``(summed log-probability, every token is the argmax of its position)``."""
    if any(not c for conts in continuations for c in conts):
        raise ValueError("every continuation needs at least one token")
    device = next(model.parameters()).device
    shared = common_prefix_len(prompts) if share_prefix else 0
    prefix_cache = None
    if shared:
        prefix = torch.tensor([list(prompts[0][:shared])], device=device)
        prefix_cache = model(input_ids=prefix, use_cache=True).past_key_values
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # less padding
    out: list[list[tuple[float, bool]] | None] = [None] * len(prompts)
    bar = tqdm(total=len(prompts), desc=progress, disable=progress is None)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        scores = _score_batch(model, [prompts[i][shared:] for i in batch], [continuations[i] for i in batch],
                              shared, prefix_cache, pad_id, device)
        for i, s in zip(batch, scores):
            out[i] = s
        bar.update(len(batch))
    bar.close()
    return out


class _Tally:
    """Summed log-probability and greedy flag of one continuation, token by token."""

    def __init__(self):
        self.logp, self.greedy = 0.0, True

    def add(self, logp_row: torch.Tensor, token: int) -> None:
        self.logp += float(logp_row[token])
        self.greedy = self.greedy and int(logp_row.argmax()) == int(token)


def _score_batch(model, suffixes, conts, shared: int, prefix_cache, pad_id: int, device) -> list[list[tuple[float, bool]]]:
    # Each row: the document's suffix, then the first multi-token continuation minus its last
    # token ("folded"): causal attention keeps the prompt-end logits of the other labels intact.
    fold = [next((j for j, c in enumerate(cs) if len(c) > 1), None) for cs in conts]
    rows = [list(s) + (list(conts[b][fold[b]][:-1]) if fold[b] is not None else []) for b, s in enumerate(suffixes)]
    ends = [len(s) - 1 for s in suffixes]  # position of each prompt's last token
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, device=device)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r, device=device)
    positions_all = torch.arange(width, device=device)
    row_mask = (positions_all[None] < torch.tensor([len(r) for r in rows], device=device)[:, None]).long()
    ones = torch.ones(len(rows), shared, dtype=torch.long, device=device)
    positions = (shared + positions_all).expand(len(rows), width)
    cache = None
    if prefix_cache is not None:
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(len(rows))
    wanted = sorted({e + t for b, e in enumerate(ends) for t in range(len(rows[b]) - e)})
    result = model(input_ids=ids, attention_mask=torch.cat([ones, row_mask], 1), position_ids=positions,
                   past_key_values=cache, use_cache=True, logits_to_keep=torch.tensor(wanted, device=device))
    column = {p: k for k, p in enumerate(wanted)}
    logp = torch.log_softmax(result.logits.float(), -1)  # (B, len(wanted), V)
    tallies = [[_Tally() for _ in cs] for cs in conts]
    for b, e in enumerate(ends):
        for j, c in enumerate(conts[b]):
            for t in (range(len(c)) if j == fold[b] else range(1)):
                tallies[b][j].add(logp[b, column[e + t]], c[t])
    later = [(b, j) for b in range(len(rows)) for j, c in enumerate(conts[b]) if len(c) > 1 and j != fold[b]]
    if later:  # prompt tokens only: the folded tokens are masked out
        prompt_mask = (positions_all[None] <= torch.tensor(ends, device=device)[:, None]).long()
        _add_later_tokens(model, result.past_key_values, later, conts, torch.tensor(ends, device=device) + 1,
                          torch.cat([ones, prompt_mask], 1), shared, tallies, pad_id, device)
    return [[(t.logp, t.greedy) for t in row] for row in tallies]


def _add_later_tokens(model, cache, rows, conts, lengths, mask, shared, tallies, pad_id, device) -> None:
    """Tokens 2.. of multi-token continuations: one forward over (document, continuation) rows."""
    width = max(len(conts[b][j]) - 1 for b, j in rows)
    docs = torch.tensor([b for b, _ in rows], device=device)
    cache.batch_select_indices(docs)
    ids = torch.full((len(rows), width), pad_id, device=device)
    own = torch.zeros((len(rows), width), dtype=torch.long, device=device)
    for r, (b, j) in enumerate(rows):
        feed = conts[b][j][:-1]
        ids[r, :len(feed)] = torch.tensor(list(feed), device=device)
        own[r, :len(feed)] = 1
    positions = shared + lengths[docs][:, None] + torch.arange(width, device=device)[None]
    result = model(input_ids=ids, attention_mask=torch.cat([mask[docs], own], 1), position_ids=positions,
                   past_key_values=cache, use_cache=False)
    logp = torch.log_softmax(result.logits.float(), -1)
    for r, (b, j) in enumerate(rows):
        for t, tok in enumerate(conts[b][j][1:]):
            tallies[b][j].add(logp[r, t], tok)
