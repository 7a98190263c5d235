"""Multiple-choice tasks as a choice policy (``--objective choice``).

An lm-eval ``multiple_choice`` task (stock ``arc_easy``, ``arc_challenge``, ``piqa``, …) picks
the choice whose continuation has the highest log-likelihood after the context (``acc``), or
the highest log-likelihood per character of the choice (``acc_norm``). The trainer turns that
rule into a policy over the choices:

    score_c  = sum_t log p_W'(cont_c[t] | context, cont_c[:t])      (/ len(choice_c) for acc_norm)
    pi(c|x)  = softmax_c (score_c / T)      (its argmax is exactly the answer lm-eval scores)
    J(z)     = E_{c ~ pi}[ r(c) ] - lambda * KL(pi_W'(.|x) || pi_W(.|x)),   r = +1 gold, -1 otherwise

``choice_estimator=expectation`` (default) differentiates the exact expectation
sum_c pi(c) r(c) = 2 pi(gold) - 1; ``sample`` is REINFORCE on one choice sampled from pi per
document (advantage r(c) minus the exact expected reward when ``baseline=mean``). The KL is
between the two choice distributions (adapted vs base weights), averaged over documents.
Summed log-likelihoods of a 135M model differ by several nats between choices, so pi at
``temperature`` T = 1 is nearly one-hot and the gradient of a confidently wrong document
vanishes; T > 1 softens pi without changing its argmax.

Requests are built by the lm-eval task itself (``fewshot_context`` with zero shots and
``construct_requests``) and tokenised as HFLM does (trailing spaces of the context move to the
continuation; the continuation's ids are those of the whole string after the context's), so a
score here equals lm-eval's ``loglikelihood`` of the same request (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .objective import response_log_softmax, sequence_logp
from .rollout import left_pad, pad_id, pair_rows, position_ids


@dataclass
class ChoiceItem:
    """One document as lm-eval scores it: (context, continuation) per choice, the gold index
    and each choice's character length (the ``acc_norm`` divisor)."""

    pairs: list[tuple[str, str]]
    gold: int
    lengths: list[float]


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """HFLM's ``_encode_pair``: context ids and continuation ids."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole = tokenizer.encode(context + continuation)
    ctx = tokenizer.encode(context)
    return ctx, whole[len(ctx):]


def choice_scores(model, tokenizer, items: list[ChoiceItem], norm: str = "acc",
                  share_context: bool = True) -> torch.Tensor:
    """(documents, max choices) scores (log-likelihoods, per character for ``acc_norm``);
    missing choices are -inf. Differentiable when the model is. ``share_context``: a document
    whose choices share one context runs it once and its KV cache serves every choice (the
    same numbers as one full row per choice, within float error; tested)."""
    device = next(model.parameters()).device
    encoded = [[encode_pair(tokenizer, c, k) for c, k in item.pairs] for item in items]
    if share_context and all(len({tuple(c) for c, _ in doc}) == 1 and doc[0][0] for doc in encoded):
        ll = _shared_context_loglikelihoods(model, encoded, pad_id(tokenizer), device)
    else:
        ll = _row_loglikelihoods(model, [pair for doc in encoded for pair in doc], pad_id(tokenizer), device)
    if norm == "acc_norm":
        ll = ll / torch.tensor([n for item in items for n in item.lengths], dtype=ll.dtype, device=device)
    owner = torch.tensor([d for d, item in enumerate(items) for _ in item.pairs], device=device)
    slot = torch.tensor([c for item in items for c in range(len(item.pairs))], device=device)
    width = max(len(item.pairs) for item in items)
    scores = torch.full((len(items), width), float("-inf"), dtype=ll.dtype, device=device)
    return scores.index_put((owner, slot), ll)


def _row_loglikelihoods(model, pairs: list[tuple[list[int], list[int]]], pad: int, device) -> torch.Tensor:
    """Summed continuation log-likelihood of each (context, continuation), one full row each."""
    rows = pair_rows(pairs, pad, device)
    log_probs, tokens, row = response_log_softmax(model, rows.input_ids, rows.attention_mask, rows.response_mask)
    token_logp = log_probs.gather(-1, tokens[:, None]).squeeze(-1)
    return sequence_logp(token_logp, row, len(pairs), "sum")


def _shared_context_loglikelihoods(model, encoded, pad: int, device) -> torch.Tensor:
    """The same, with each document's context run once: (1) the left-padded contexts, whose
    last position predicts every continuation's first token; (2) every continuation but its
    last token, on the context's KV cache (selected per choice), predicting the rest."""
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    ctx_ids, ctx_mask = left_pad([doc[0][0] for doc in encoded], pad, device)
    out = decoder(input_ids=ctx_ids, attention_mask=ctx_mask, position_ids=position_ids(ctx_mask), use_cache=True)
    first = torch.log_softmax(head(out.last_hidden_state[:, -1]).float(), -1)      # (D, V)
    conts = [k for doc in encoded for _, k in doc]
    owner = torch.tensor([d for d, doc in enumerate(encoded) for _ in doc], device=device)
    ll = first[owner].gather(1, torch.tensor([k[0] for k in conts], device=device)[:, None]).squeeze(1)
    longest = max(len(k) for k in conts) - 1
    if longest == 0:
        return ll
    cache = out.past_key_values
    cache.batch_select_indices(owner)
    ids = torch.full((len(conts), longest), pad, dtype=torch.long, device=device)
    own = torch.zeros_like(ids)
    for r, k in enumerate(conts):
        ids[r, :len(k) - 1] = torch.tensor(k[:-1], device=device)
        own[r, :len(k) - 1] = 1
    lengths = ctx_mask.sum(1)[owner]
    positions = lengths[:, None] + torch.arange(longest, device=device)[None]
    hidden = decoder(input_ids=ids, attention_mask=torch.cat([ctx_mask[owner], own], 1), position_ids=positions,
                     past_key_values=cache, use_cache=False).last_hidden_state
    chosen = own.bool()
    rest = torch.log_softmax(head(hidden[chosen]).float(), -1)
    targets = torch.tensor([t for k in conts for t in k[1:]], device=device)
    rows = torch.arange(len(conts), device=device)[:, None].expand_as(chosen)[chosen]
    return ll.index_add(0, rows, rest.gather(1, targets[:, None]).squeeze(1))


def _log_policy(scores: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(scores, dim=-1)


def choice_kl(scores: torch.Tensor, base_scores: torch.Tensor) -> torch.Tensor:
    """KL(pi || pi_base) per document over its choices."""
    log_p, log_q = _log_policy(scores), _log_policy(base_scores)
    terms = log_p.exp() * (log_p - log_q)
    return torch.where(torch.isfinite(scores), terms, torch.zeros_like(terms)).sum(-1)


def choice_loss(scores: torch.Tensor, gold: torch.Tensor, base_scores: torch.Tensor | None, *,
                estimator: str, kl_coef: float, num_docs: int, baseline: str = "none", temperature: float = 1.0,
                reward_correct: float = 1.0, reward_wrong: float = -1.0) -> tuple[torch.Tensor, dict]:
    """Loss (to minimise) of a micro-batch of documents and its summed statistics; the loss is
    divided by ``num_docs`` (the whole update's documents) so micro-batches accumulate exactly."""
    correct = int((scores.detach().argmax(-1) == gold).sum())
    scores = scores / temperature
    base_scores = None if base_scores is None else base_scores / temperature
    log_pi = _log_policy(scores)
    pi = log_pi.exp()
    rewards = torch.full_like(pi, reward_wrong).scatter(1, gold[:, None], reward_correct)
    expected = (pi * torch.where(torch.isfinite(scores), rewards, torch.zeros_like(rewards))).sum(-1)
    if estimator == "expectation":
        objective = expected
    else:  # one sampled choice per document (torch's RNG: seeded and checkpointed)
        picked = torch.multinomial(pi.detach(), 1)
        advantage = rewards.gather(1, picked).squeeze(1)
        if baseline == "mean":
            advantage = advantage - expected.detach()
        objective = advantage * log_pi.gather(1, picked).squeeze(1)
    loss = -objective.sum() / num_docs
    stats = {"reward_sum": float(expected.detach().sum()),
             "correct": correct,
             "nll_sum": float(-log_pi.detach().gather(1, gold[:, None]).sum())}
    if base_scores is not None:
        kl = choice_kl(scores, base_scores)
        stats["kl_sum"] = float(kl.detach().sum())
        if kl_coef > 0:
            loss = loss + kl_coef * kl.sum() / num_docs
    return loss, stats


def gold_of(items: list[ChoiceItem], device) -> torch.Tensor:
    return torch.tensor([item.gold for item in items], dtype=torch.long, device=device)


@torch.no_grad()
def choice_eval(model, tokenizer, items: list[ChoiceItem], norm: str = "acc", batch: int = 32) -> tuple[float, float]:
    """(accuracy as lm-eval's ``acc`` / ``acc_norm`` scores it, mean NLL of the gold choice
    under pi) over ``items``."""
    correct, nll = 0, 0.0
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        scores = choice_scores(model, tokenizer, chunk, norm)
        gold = gold_of(chunk, scores.device)
        correct += int((scores.argmax(-1) == gold).sum())
        nll -= float(_log_policy(scores).gather(1, gold[:, None]).sum())
    return correct / max(1, len(items)), nll / max(1, len(items))


# ----------------------------------------------------------------------------- lm-eval tasks


def choice_item(task, doc: dict) -> ChoiceItem:
    """One document's requests, built by the lm-eval task as it builds them for scoring."""
    context = task.fewshot_context(doc, 0)
    requests = task.construct_requests(doc=doc, ctx=context, metadata=(task.config.task, 0, 1))
    pairs = [tuple(r.arguments) for r in (requests if isinstance(requests, list) else [requests])]
    choices = task.doc_to_choice(doc)
    gold = task.doc_to_target(doc)
    if isinstance(gold, str):
        gold = choices.index(gold)
    return ChoiceItem(pairs=pairs[:len(choices)], gold=int(gold), lengths=[float(len(c)) for c in choices])
