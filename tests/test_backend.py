"""The `t2` lm-eval backend: registration with the stock CLI, pass-1 parsing, and
per-sample dispatch (one expert install per distinct label) on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from t2eval.dispatch import LABELS, classification_prompt, parse_label
from t2eval.svf import ones_expert, save_expert


def test_stock_lm_eval_sees_model_and_tasks_without_shadowing():
    code = (
        "import json\n"
        "from lm_eval.api.registry import get_model, model_registry\n"
        "from lm_eval.tasks import TaskManager\n"
        "tm = TaskManager()\n"
        "idx = tm.task_index\n"
        "print(json.dumps({'t2': str(model_registry._objs.get('t2')),"
        " 'hf': get_model('hf').__name__,"
        " 'ours': [t for t in ('arc_easy_t2', 'arc_challenge_t2', 'gsm8k_t2') if t in tm.all_tasks],"
        " 'arc_easy': str(idx['arc_easy'].yaml_path)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["t2"] == "t2eval.harness:T2LM"  # lazy: registered, not imported
    assert info["hf"] == "HFLM"  # built-in models still load (regression: registry was non-empty)
    assert info["ours"] == ["arc_easy_t2", "arc_challenge_t2", "gsm8k_t2"]
    assert "lm_eval/tasks/arc" in info["arc_easy"]  # built-in task untouched


def test_plugin_costs_nothing_without_lm_eval():
    code = "import sys; print('torch' in sys.modules, 'lm_eval' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_classification_prompt_and_parsing():
    prompt = classification_prompt("What is 2 + 2?")
    assert "classify it into one of four categories: 'code', 'math', 'reasoning', or 'others'" in prompt
    assert "If a question spans multiple categories, choose the most dominant one." in prompt
    assert prompt.endswith("Question: What is 2 + 2?")
    assert parse_label("Classification: \\boxed{math}") == "math"
    assert parse_label("\\boxed{Code} ... final: \\boxed{reasoning}") == "reasoning"
    assert parse_label("I think it is math") == "others"
    assert parse_label("\\boxed{poetry}") == "others"
    assert parse_label("Classification: Code\n\nQuestion: ...") == "code"  # box dropped
    assert parse_label("Classification: \\boxed{math}") == "math"
    assert set(LABELS) == {"code", "math", "reasoning", "others"}


def _experts_folder(model_folder, out, labels=("math", "code", "reasoning")):
    from transformers import AutoModelForCausalLM

    from t2eval.svf import decompose

    model = AutoModelForCausalLM.from_pretrained(model_folder)
    dec = decompose(model, "mlp", progress=False)
    gen = torch.Generator().manual_seed(0)
    for label in labels:
        base = ones_expert(dec, str(model_folder), "mlp")
        z = {n: 1 + 0.5 * torch.randn(v.shape, generator=gen) for n, v in base.z.items()}
        save_expert(base.with_z(z, name=label, label=label), out / f"{label}.safetensors")
    return out


def _requests(n_docs: int, choices: int = 2):
    from lm_eval.api.instance import Instance

    reqs = []
    for doc_id in range(n_docs):
        for c in range(choices):
            reqs.append(Instance("loglikelihood", {"question": f"q{doc_id}"}, (f"Question {doc_id}:", f" answer {c}"),
                                 c, metadata=("toy", doc_id, 1)))
    return reqs


def test_dispatch_installs_each_expert_once_and_keeps_order(tiny_hf_folder, tmp_path, monkeypatch):
    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="prompt", device="cpu")
    labels = ["math", "code", "math", "others", "code", "math", "reasoning"]
    monkeypatch.setattr(lm, "classify", lambda reqs, expert=None: labels)
    installs = []
    original = lm.adapter.applied
    monkeypatch.setattr(lm.adapter, "applied", lambda e: (installs.append(e and e.name), original(e))[1])
    reqs = _requests(len(labels))
    got = lm.loglikelihood(reqs, disable_tqdm=True)
    assert installs == ["math", "code", None, "reasoning"]  # once per distinct label
    for label in ("math", "code", "reasoning"):  # each answer = that expert's answer
        fixed = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy=label, device="cpu")
        mine = [2 * d + c for d, l in enumerate(labels) if l == label for c in range(2)]
        want = fixed.loglikelihood([reqs[i] for i in mine], disable_tqdm=True)
        assert [got[i] for i in mine] == want
    info = lm.get_model_info()["t2"]
    assert info["strategy"] == "prompt" and set(info["experts"]) == {"math", "code", "reasoning"}


def test_bad_model_args_are_explained(tiny_hf_folder, tmp_path):
    from t2eval.harness import T2LM
    from t2eval.svf import ExpertError

    folder = _experts_folder(tiny_hf_folder, tmp_path, labels=("math",))
    with pytest.raises(ValueError, match="unknown strategy 'mth' — did you mean 'math'"):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="mth", device="cpu")
    with pytest.raises(ExpertError, match="unknown expert 'mth' — did you mean 'math'"):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="expert:mth", device="cpu")
    with pytest.raises(ExpertError, match="does not exist"):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(tmp_path / "nope"), device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="needs labelled experts"):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(tmp_path / "empty"), strategy="prompt", device="cpu")


def test_use_cache_never_mixes_configurations(tiny_hf_folder, tmp_path):
    from lm_eval.api.model import CachingLM

    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    db = str(tmp_path / "cache.db")
    math_lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="math", device="cpu")
    cached = CachingLM(math_lm, db)
    reqs = _requests(2)
    first = cached.loglikelihood(reqs)
    assert cached.loglikelihood(reqs) == first  # served from the cache
    code_lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="code", device="cpu")
    with pytest.raises(RuntimeError, match="different t2 configuration"):
        CachingLM(code_lm, db)
    CachingLM(T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="math", device="cpu"), db)

    foreign = tmp_path / "hf.db"
    from sqlitedict import SqliteDict

    with SqliteDict(str(foreign), autocommit=True) as d:
        d["some-hash"] = (-1.0, False)
    with pytest.raises(RuntimeError, match="not written by t2"):
        CachingLM(code_lm, str(foreign))


def test_pass1_stays_out_of_the_cache_and_batch_size_is_detected_once(tiny_hf_folder, tmp_path, monkeypatch):
    from lm_eval.api.model import CachingLM
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="prompt", device="cpu",
              max_length=256)
    cached = CachingLM(lm, str(tmp_path / "c.db"))
    reqs = _requests(3)
    cached.loglikelihood(reqs)
    assert sum(lm.record.pass1_labels["toy"].values()) == 3  # pass 1 ran ...
    assert len(cached.dbdict) == 1 + len(reqs)  # ... but only pass-2 answers (+ marker) were cached
    calls = []
    monkeypatch.setattr(HFLM, "_detect_batch_size", lambda self, r=None, p=0: calls.append(1) or 4)
    assert lm._detect_batch_size() == 8 and not calls  # CPU: no probe (it would take minutes and GBs)
    lm._auto_batch_size, lm._device = None, torch.device("cuda")
    assert lm._detect_batch_size() == lm._detect_batch_size() == 4
    assert len(calls) == 1


def test_adapt_task_uses_the_majority_label(tiny_hf_folder, tmp_path, monkeypatch):
    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="prompt", adapt="task",
              device="cpu")
    monkeypatch.setattr(lm, "classify", lambda reqs, expert=None: ["math", "code", "math", "others"])
    keys = lm._plan(_requests(4, choices=1))
    assert keys == ["math"] * 4
    with pytest.raises(ValueError, match="adapt must be 'sample' or 'task', got 'doc'"):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), adapt="doc", device="cpu")


def test_fewshot_refuses_test_only_tasks():
    from t2eval.harness.fewshot import held_out_docs

    class TestOnly:
        class config:
            task = "humaneval_t2"

        has_validation_docs = has_training_docs = staticmethod(lambda: False)
        has_test_docs = staticmethod(lambda: True)
        validation_docs = training_docs = None

    with pytest.raises(ValueError, match="leak into the score.*humaneval_t2_holdout"):
        held_out_docs(TestOnly(), 3, 0)


def test_fewshot_never_draws_shots_from_the_scored_split():
    """A task without a test split (stock hellaswag, piqa, ...) is scored on validation:
    its shots come from train, and without a train split there are none."""
    from t2eval.harness.fewshot import held_out_docs

    class ValidationScored:
        class config:
            task = "piqa_like"

        has_test_docs = staticmethod(lambda: False)
        has_validation_docs = has_training_docs = staticmethod(lambda: True)
        validation_docs = staticmethod(lambda: [{"split": "validation", "i": i} for i in range(5)])
        training_docs = staticmethod(lambda: [{"split": "train", "i": i} for i in range(5)])

    split, docs = held_out_docs(ValidationScored(), 3, 0)
    assert split == "train" and {d["split"] for d in docs} == {"train"} and len(docs) == 3
    ValidationScored.has_training_docs = staticmethod(lambda: False)
    with pytest.raises(ValueError, match="it scores validation"):
        held_out_docs(ValidationScored(), 3, 0)


def test_cem_finds_the_best_mix_on_a_toy_objective():
    from t2eval.adapt.cem import CEMConfig, cem_search

    target = torch.tensor([0.7, 0.2, 0.1])
    records = []
    found = cem_search(lambda a: (-float((a - target).abs().sum()), 0.0), (3,),
                       CEMConfig(population=16, generations=8, init_std=0.3, seed=0), records.append)
    assert (found.alpha - target).abs().sum() < 0.15
    assert abs(float(found.alpha.sum()) - 1) < 1e-5  # normalised
    assert len(records) == 8 and records[-1]["best_score"] >= records[0]["best_score"]
    again = cem_search(lambda a: (-float((a - target).abs().sum()), 0.0), (3,),
                       CEMConfig(population=16, generations=8, init_std=0.3, seed=0))
    assert torch.equal(again.alpha, found.alpha)  # seeded


def test_cem_breaks_score_ties_by_tiebreak():
    from t2eval.adapt.cem import CEMConfig, cem_search

    found = cem_search(lambda a: (1.0, float(a[0])), (2,), CEMConfig(population=8, generations=3, seed=1))
    assert found.score == 1.0 and found.tiebreak == max(r["best_tiebreak"] for r in found.history)


def test_bad_arguments_fail_before_the_model_loads(tiny_hf_folder, tmp_path, monkeypatch):
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path, labels=("math",))
    monkeypatch.setattr(HFLM, "__init__", lambda *a, **k: pytest.fail("the model was loaded"))
    cases = [
        (dict(strategy="bogus"), "unknown strategy 'bogus'.*valid: none, prompt, cls, uniform, fewshot"),
        (dict(strategy="promt"), "did you mean 'prompt'"),
        (dict(dispatch="scroe"), "unknown dispatch mode 'scroe' — did you mean 'score'"),
        (dict(pass1_layout="sys"), "pass1_layout must be 'user' or 'system'"),
        (dict(chat="yes"), "chat must be 'auto' or 'off'"),
        (dict(stratgy="cls"), "unknown t2 model argument 'stratgy' — did you mean 'strategy'"),
        (dict(pass1_options="maybe"), "pass1_options must be true or false"),
        (dict(strategy="cls"), "strategy 'cls' needs an expert named 'cls'"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), device="cpu", **args)


def test_strategies_are_registered_classes():
    from t2eval.adapt.library import ExpertLibrary
    from t2eval.adapt.strategies import STRATEGIES, FixedExpert, make_strategy

    assert list(STRATEGIES) == ["none", "prompt", "cls", "uniform", "fewshot"]
    empty = ExpertLibrary({}, None)
    assert make_strategy(None, empty).name == "none"  # no experts: base weights
    # the default follows the held-out comparison (reports/defaults.md): cls where a cls expert ships
    labelled = ExpertLibrary({"m": _Labelled("math")}, None)
    assert make_strategy(None, labelled).name == "prompt"
    assert make_strategy(None, ExpertLibrary({"m": _Labelled("math"), "cls": _Labelled(None)}, None)).name == "cls"
    assert make_strategy(None, ExpertLibrary({"cls": _Labelled(None)}, None)).name == "none"  # cls, no labels
    with pytest.raises(ValueError, match="needs labelled experts"):
        make_strategy("prompt", empty)
    assert make_strategy("fewshot", empty.__class__({"m": _Labelled("math")}), shots=3).fingerprint() == {
        "strategy": "fewshot", "shots": 3}
    fixed = make_strategy("expert:m", ExpertLibrary({"m": _Labelled(None)}, None))
    assert isinstance(fixed, FixedExpert) and fixed.plan([1, 2], None) == ["m", "m"] and fixed.name == "expert:m"
    # strategies get pass 1 as an argument (no model class): labels without an expert go to base
    prompt = make_strategy("prompt", ExpertLibrary({"m": _Labelled("math")}, None))
    docs = [type("Doc", (), {"task_name": "t"})() for _ in range(3)]
    assert prompt.plan(docs, lambda d, expert: ["math", "others", "math"]) == ["math", "base", "math"]


class _Labelled:
    def __init__(self, label):
        self.label = label


def test_score_dispatch_matches_lm_eval_loglikelihood(tiny_hf_folder, tmp_path):
    """Pass 1's label scores equal HFLM's own log-likelihood of each label after the prompt."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM
    from t2eval.dispatch import ANSWER_PREFIX, pass1_messages, question_of

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    lm = T2LM(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="prompt", device="cpu",
              batch_size=2)
    docs = [{"question": "What is 12 * 7?"}, {"question": "Which gas do plants take in?",
                                               "choices": {"text": ["oxygen", "carbon dioxide"], "label": ["A", "B"]}},
            {"text": "Write a function that reverses a list."}]
    reqs = [Instance("loglikelihood", d, ("ctx", " x"), 0, metadata=("toy", i, 1)) for i, d in enumerate(docs)]
    labels = lm.classify(reqs)
    lm.args.share_context = False  # the reference: HFLM's own loop
    for i, doc in enumerate(docs):
        prompt = lm.apply_chat_template(pass1_messages(question_of(doc, ""), "system")) + ANSWER_PREFIX
        probes = [Instance("loglikelihood", doc, (prompt, label), 0) for label in LABELS]
        want = dict(zip(LABELS, (ll for ll, _ in HFLM.loglikelihood(lm, probes, disable_tqdm=True))))
        got = lm.record.pass1_details["toy"][i]["scores"]
        assert got == pytest.approx(want, abs=2e-3)
        assert labels[i] == max(want, key=want.get)
    keys = lm._plan(reqs)
    assert [lm.record.pass1_details["toy"][i]["weights"] for i in range(3)] == keys
    assert all(k == (l if l in ("math", "code", "reasoning") else "base") for k, l in zip(keys, labels))


def test_fingerprint_covers_every_setting_that_changes_answers(tiny_hf_folder, tmp_path):
    from t2eval.harness import T2LM

    folder = _experts_folder(tiny_hf_folder, tmp_path)
    base = dict(pretrained=str(tiny_hf_folder), experts=str(folder), strategy="prompt", device="cpu")
    prints = {T2LM(**base).config_fingerprint()}
    for change in (dict(dispatch="generate"), dict(pass1_layout="user"), dict(adapt="task"),
                   dict(allow_foreign=True), dict(pass1_options=False), dict(chat="off"), dict(strategy="math")):
        prints.add(T2LM(**{**base, **change}).config_fingerprint())
    assert len(prints) == 8


def test_chat_auto_renders_raw_generative_prompts_once(tiny_hf_folder, tmp_path, monkeypatch):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from t2eval.harness import T2LM

    seen = []
    monkeypatch.setattr(HFLM, "generate_until", lambda self, reqs, disable_tqdm=False:
                        seen.append([r.args[0] for r in reqs]) or ["out"] * len(reqs))
    for chat in ("auto", "off"):
        lm = T2LM(pretrained=str(tiny_hf_folder), strategy="none", chat=chat, device="cpu")
        rendered = lm.apply_chat_template([{"role": "user", "content": "already"}])
        reqs = [Instance("generate_until", {}, ("Solve 2+2.", {"until": ["\n"]}), 0, metadata=("toy", 0, 1)),
                Instance("generate_until", {}, (rendered, {"until": ["\n"]}), 0, metadata=("toy", 1, 1))]
        assert lm.generate_until(reqs) == ["out", "out"]
        info = lm.get_model_info()["t2"]
        if chat == "auto":
            assert seen[-1] == [lm.apply_chat_template([{"role": "user", "content": "Solve 2+2."}]), rendered]
            assert info["chat_wrapped_tasks"] == ["toy"]
        else:
            assert seen[-1] == ["Solve 2+2.", rendered] and info["chat_wrapped_tasks"] == []


def test_decisions_file_beside_the_results(tmp_path):
    import json

    from lm_eval.loggers.evaluation_tracker import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.model_name_sanitized = "t2"
    results = {"config": {"t2": {"pass1_details": {"arc": {0: {"label": "reasoning", "weights": "reasoning"}}}}},
               "results": {}, "configs": {}, "versions": {}, "n-shot": {}, "higher_is_better": {}}
    tracker.save_results_aggregated(results=results, samples=None)
    (path,) = (tmp_path / "t2").glob("t2_decisions_*.jsonl")
    assert [json.loads(l) for l in path.read_text().splitlines()] == [
        {"task": "arc", "doc_id": 0, "label": "reasoning", "weights": "reasoning"}]


def test_cem_candidates_are_clamped_and_presets_documented():
    from t2eval.adapt.cem import CEMConfig, cem_config, cem_search

    seen = []
    cem_search(lambda a: (seen.append(a.clone()) or 0.0, 0.0), (3,),
               CEMConfig(population=16, generations=3, init_std=3.0, seed=0))
    stacked = torch.stack(seen)
    assert stacked.min() >= 0 and stacked.max() <= 1  # the reference clamps to [0, 1]
    assert torch.allclose(stacked.sum(1), torch.ones(len(seen)))
    ref = cem_config("reference")
    assert (ref.population, ref.elite_ratio, ref.init_std) == (32, 0.2, 0.5)
    assert cem_config("reference", population=4).population == 4  # explicit settings win
    with pytest.raises(ValueError, match="unknown CEM preset 'referense' — did you mean 'reference'"):
        cem_config("referense")


def test_vllm_gets_the_sampling_settings_hf_generate_would_use():
    from transformers import GenerationConfig

    from t2eval.harness.vllm_requests import sampling_settings

    assert sampling_settings({"temperature": 0.8}) == {"temperature": 0.0}  # no do_sample: greedy
    got = sampling_settings({"do_sample": True, "temperature": 0.8}, GenerationConfig())
    # HF fills unset settings from transformers' defaults: top_k 50 (vLLM's own default is off)
    assert got == {"temperature": 0.8, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}
    got = sampling_settings({"do_sample": True, "temperature": 0.6, "top_p": 0.95, "min_p": 0.05},
                            GenerationConfig(top_k=20, repetition_penalty=1.1))
    assert got == {"temperature": 0.6, "top_k": 20, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.1}


def test_experts_env_and_misfit_experts_are_caught_at_start_up(tiny_hf_folder, tmp_path, monkeypatch):
    from t2eval.harness import T2LM
    from t2eval.adapt.library import default_experts_dir
    from t2eval.models import model_slug
    from t2eval.svf import ExpertError

    flat = _experts_folder(tiny_hf_folder, tmp_path / "flat")
    monkeypatch.setenv("T2EVAL_EXPERTS", str(flat))
    assert default_experts_dir(model_slug(str(tiny_hf_folder))) == flat  # a flat folder of experts works
    monkeypatch.setenv("T2EVAL_EXPERTS", str(tmp_path / "nothing-here"))
    with pytest.raises(ExpertError, match="neither a model/ folder nor expert files"):
        default_experts_dir("model")
    monkeypatch.delenv("T2EVAL_EXPERTS")
    # an expert for a model of other shapes fails when t2 starts, even if no document would use it
    other = tmp_path / "other-model"
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(AutoTokenizer.from_pretrained(tiny_hf_folder)), hidden_size=32,
                         intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    LlamaForCausalLM(config).save_pretrained(other)
    AutoTokenizer.from_pretrained(tiny_hf_folder).save_pretrained(other)
    mixed = _experts_folder(other, tmp_path / "mixed", labels=("code",))
    for f in flat.glob("math.*"):
        (mixed / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ExpertError):
        T2LM(pretrained=str(tiny_hf_folder), experts=str(mixed), strategy="math", device="cpu")


def test_shared_context_loglikelihoods_equal_hflms(tiny_hf_folder):
    """share_context: one forward per distinct context, the same numbers and greedy flags as
    HFLM's own loop, including an empty context and a request HFLM truncates."""
    from lm_eval.api.instance import Instance

    from t2eval.harness import T2LM

    shared = T2LM(pretrained=str(tiny_hf_folder), strategy="none", device="cpu", batch_size=2, max_length=64)
    plain = T2LM(pretrained=str(tiny_hf_folder), strategy="none", device="cpu", batch_size=3, max_length=64,
                 share_context=False)
    args = [(f"Question: what is {q}?\nAnswer:", f" {a}") for q in ("2+2", "the sun", "a very long word")
            for a in ("4", "a star", "none of these", "x")]
    args += [("", "hello world"), ("word " * 80, " end"), ("Question: what is 2+2?\nAnswer: ", "4")]
    reqs = [Instance("loglikelihood", {}, a, 0, metadata=("toy", i, 1)) for i, a in enumerate(args)]
    got, want = shared.loglikelihood(reqs), plain.loglikelihood(reqs)
    assert [g for _, g in got] == [g for _, g in want]
    assert torch.allclose(torch.tensor([l for l, _ in got]), torch.tensor([l for l, _ in want]), atol=1e-4)
    assert shared.config_fingerprint() != plain.config_fingerprint()


def test_t2eval_eval_help_is_its_own():
    from click.testing import CliRunner

    from t2eval.commands.eval import eval as eval_cmd

    out = CliRunner().invoke(eval_cmd, ["--help"]).output
    assert out.startswith("Usage: t2eval eval") and "--model_args of t2" in out
    for arg in ("strategy", "dispatch", "pass1_layout", "chat", "share_context", "cem_preset"):
        assert f"\n{arg}" in out or f" {arg} " in out, arg


def test_fewshot_fitness_requests_are_built_like_the_scored_ones(monkeypatch):
    """Few-shot CEM's fitness prompts come from the run's own task object, with the run's
    --num_fewshot, system instruction and chat settings (recorded when lm-eval builds the
    scored requests), not from a fresh zero-shot task."""
    from lm_eval.tasks import TaskManager

    from t2eval.harness import run_tasks
    from t2eval.harness.fewshot import FewShotSet

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    task = TaskManager().load_task_or_group(["arc_easy"])["arc_easy"]
    task.set_config(key="num_fewshot", value=2)
    run_tasks.forget()
    task.build_all_requests(limit=2, system_instruction="Answer briefly.", apply_chat_template=False)
    found = run_tasks.lookup("arc_easy")
    assert found is not None and found[0] is task and found[1].system_instruction == "Answer briefly."
    scored_ctx = task.instances[0].args[0]
    shots = FewShotSet.build(found[0], 3, 0, found[1])
    fitness_ctx = shots.requests[0][0].args[0]
    for ctx in (scored_ctx, fitness_ctx):
        assert ctx.startswith("Answer briefly.") and ctx.count("Question:") == 3  # 2 shots + the question
    plain = FewShotSet.build(task, 3, 0)  # no settings: no system instruction
    assert not plain.requests[0][0].args[0].startswith("Answer briefly.")
    assert plain.fingerprint() != shots.fingerprint()
    assert shots.split == "validation" and shots.docs == plain.docs
