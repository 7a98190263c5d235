"""Pass 1 without lm-eval's HFLM: the label scorer, the prompt layouts and options, the modes."""

from __future__ import annotations

import pytest
import torch

from conftest import make_tiny_llama
from t2eval.dispatch import (ANSWER_PREFIX, LABELS, Classifier, Pass1Runner, common_prefix_len,
                             continuation_logprobs, get_mode, instructions, parse_label, pass1_messages,
                             question_of)


def _naive(model, prompt, cont):
    logp = torch.log_softmax(model(torch.tensor([prompt + cont])).logits[0].detach(), -1)
    return float(sum(logp[len(prompt) - 1 + t, tok] for t, tok in enumerate(cont)))


@pytest.mark.parametrize("share_prefix", [True, False])
@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_scorer_equals_one_full_forward_per_continuation(share_prefix, batch_size):
    model = make_tiny_llama()
    gen = torch.Generator().manual_seed(1)
    prefix = torch.randint(1, 128, (20,), generator=gen).tolist()
    prompts = [prefix + torch.randint(1, 128, (int(n),), generator=gen).tolist()
               for n in torch.randint(1, 15, (7,), generator=gen)]
    # one-token labels, a two-token one (rides along in the row) and a three-token one (second pass)
    conts = [[[5], [6, 7], [8, 9, 10], [11]] for _ in prompts]
    got = continuation_logprobs(model, prompts, conts, batch_size=batch_size, share_prefix=share_prefix)
    want = [[_naive(model, p, c) for c in cs] for p, cs in zip(prompts, conts)]
    assert torch.allclose(torch.tensor(got), torch.tensor(want), atol=1e-4)


def test_common_prefix_leaves_every_prompt_a_token():
    assert common_prefix_len([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix_len([[1, 2], [1, 2]]) == 1  # identical prompts: the last token is each one's own
    assert common_prefix_len([[1], [1, 2]]) == 0
    assert common_prefix_len([]) == 0
    with pytest.raises(ValueError, match="at least one token"):
        continuation_logprobs(make_tiny_llama(), [[1, 2]], [[[]]])


def test_question_of_shows_multiple_choice_options():
    arc = {"question": "Which is a metal?", "choices": {"text": ["wood", "iron"], "label": ["A", "B"]}}
    assert question_of(arc, "ctx") == "Which is a metal?\nA. wood\nB. iron"
    assert question_of(arc, "ctx", options=False) == "Which is a metal?"
    assert question_of({"question": "Q?", "choices": ["x", "y", "z"]}, "") == "Q?\nA. x\nB. y\nC. z"
    assert question_of({"problem": "2+2?"}, "ctx") == "2+2?"
    assert question_of({"other": 1}, "the context") == "the context"
    assert question_of(None, "the context") == "the context"


def test_layouts():
    user = pass1_messages("Q?", "user")
    assert [m["role"] for m in user] == ["user"] and user[0]["content"].endswith("Question: Q?")
    system = pass1_messages("Q?", "system")
    assert system == [{"role": "system", "content": instructions()}, {"role": "user", "content": "Q?"}]
    with pytest.raises(ValueError, match="pass1_layout must be one of user, system, got 'sys'"):
        pass1_messages("Q?", "sys")


def test_unknown_mode_lists_the_modes():
    with pytest.raises(ValueError, match="unknown dispatch mode 'scroe' — did you mean 'score'.*score, calibrated, generate"):
        get_mode("scroe")


def _char_runner(model, **kw):
    """Characters as tokens (ids < 128): enough to drive a mode through a tiny model."""
    return Pass1Runner(render=lambda msgs: "|".join(m["content"] for m in msgs) + ">",
                       encode=lambda text: [min(ord(c), 127) for c in text], model=model, **kw)


def test_score_mode_picks_the_most_likely_label():
    model = make_tiny_llama()
    runner = _char_runner(model, batch_size=2, progress=False)
    questions = ["2+2?", "write a sort", "why is the sky blue?"]
    decisions = Classifier(runner, get_mode("score"), "system").classify(questions)
    for q, d in zip(questions, decisions):
        prompt = runner.encode(runner.render(pass1_messages(q, "system")) + ANSWER_PREFIX)
        want = {label: _naive(model, prompt, runner.encode(label)) for label in LABELS}
        assert d.scores == pytest.approx(want, abs=1e-4)
        assert d.label == max(want, key=want.get)
        assert d.record()["label"] == d.label and set(d.record()["scores"]) == set(LABELS)


def test_calibrated_mode_subtracts_the_labels_prior_on_content_free_questions():
    import math

    from t2eval.dispatch.modes import CONTENT_FREE

    model = make_tiny_llama()
    runner = _char_runner(model, batch_size=2, progress=False)
    questions = ["2+2?", "write a sort", "why is the sky blue?", "a poem please"]
    raw = Classifier(runner, get_mode("score"), "system").classify(list(CONTENT_FREE) + questions)

    def normalised(scores):
        total = math.log(sum(math.exp(v) for v in scores.values()))
        return {k: v - total for k, v in scores.items()}

    prior = {k: math.log(sum(math.exp(normalised(d.scores)[k]) for d in raw[:3]) / 3) for k in LABELS}
    decisions = Classifier(runner, get_mode("calibrated"), "system").classify(questions)
    for d, r in zip(decisions, raw[3:]):
        want = {k: v - prior[k] for k, v in normalised(r.scores).items()}
        assert d.scores == pytest.approx(want, abs=1e-4) and d.label == max(want, key=want.get)
    # a content-free question itself comes out with every label equally likely
    [free] = Classifier(runner, get_mode("calibrated"), "system").classify([CONTENT_FREE[0]])
    assert max(free.scores.values()) - min(free.scores.values()) < 0.5


def test_generate_mode_parses_the_generated_label():
    seen = []

    def generate(prompts, gen_kwargs):
        seen.append((prompts, gen_kwargs))
        return ["Classification: \\boxed{math}", "no idea"]

    runner = _char_runner(None, generate=generate)
    decisions = Classifier(runner, get_mode("generate"), "user").classify(["2+2?", "hm"])
    assert [d.label for d in decisions] == ["math", "others"]
    assert decisions[1].response == "no idea"
    prompts, kwargs = seen[0]
    assert prompts[0].endswith("Question: 2+2?>")  # no answer prefix: the paper's generated classification
    assert kwargs["max_gen_toks"] == 48 and not kwargs["do_sample"]
    assert parse_label(decisions[0].response) == "math"
