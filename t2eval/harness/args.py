"""The ``--model_args`` of ``lm_eval --model t2``: one dataclass whose fields carry their help
text and check themselves, so every argument is written once (the ``t2eval eval --help``
table and ``docs/backend.md`` are generated from it).

Precedence: an argument given in ``--model_args`` wins over its default here; anything that
is not a t2 argument goes on to lm-eval's HFLM (``device``, ``batch_size``, ``dtype``, ...).
A near-miss of a known name is refused as a typo before the model loads.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, dataclass, field, fields

from ..coerce import as_annotated, as_bool, as_choice
from ..dispatch import LAYOUTS
from ..engine import ENGINES
from ..models import DEFAULT_MODEL
from ..names import closest

CHAT_MODES = ("auto", "off")
ADAPT_MODES = ("sample", "task")
ALPHA_MODES = ("expert", "layer", "matrix")


def _arg(default, help: str, choices: tuple[str, ...] | None = None, group: str = "t2"):
    return field(default=default, metadata={"help": help, "choices": choices, "group": group})


@dataclass
class T2Args:
    """What ``--model t2`` adds to HFLM's arguments (all optional)."""

    pretrained: str = _arg(DEFAULT_MODEL, "model alias / hub id / folder (default: the embedded SmolLM2-135M-Instruct)")
    experts: str | None = _arg(None, "folder of expert files (default: experts/<model-slug>/ when present, "
                                     "or $T2EVAL_EXPERTS)")
    strategy: str | None = _arg(None, "none | prompt | cls | fewshot | uniform | <expert name> | expert:<name> "
                                      "(expert:<name> forces one expert, e.g. expert:cls; default: cls when "
                                      "labelled experts and a cls expert exist, prompt when only labelled "
                                      "experts do, else none)")
    dispatch: str = _arg("score", "pass 1 for prompt / cls: score (one forward per document scores the four labels) "
                                  "| calibrated (score minus each label's prior on content-free questions) "
                                  "| generate (the paper's generated classification)")
    pass1_layout: str = _arg("system", "system (instructions in the system turn, the question as the user turn) "
                                       "| user (the paper's one-turn prompt)", LAYOUTS)
    pass1_options: bool = _arg(True, "true: pass 1 sees a multiple-choice question with its options (as the "
                                     "reference classifier did) | false: the question only (shorter)")
    adapt: str = _arg("sample", "sample (pass 1 per document) | task (prompt / cls: the majority pass-1 label "
                                "of a task answers the whole task)", ADAPT_MODES)
    chat: str = _arg("auto", "auto: generative prompts not rendered with the chat template (no "
                             "--apply_chat_template) are sent as one user turn of it | off: prompts exactly "
                             "as lm-eval renders them", CHAT_MODES)
    share_context: bool = _arg(True, "true: log-likelihood requests sharing a context (a multiple-choice "
                                     "question's options) run it once | false: HFLM's loop, one forward each")
    allow_foreign: bool = _arg(False, "true: use experts trained on another base model of the same shapes "
                                      "(cross-model transfer, Table 5); false refuses them")
    engine: str = _arg("hf", "hf | vllm: generation (pass 1, pass 2, CEM fitness) by a live vLLM engine that "
                             "mirrors every expert swap; log-likelihoods stay on the HF model", ENGINES)
    gpu_memory_utilization: float = _arg(0.5, "engine=vllm on a GPU: vLLM's share of GPU memory (the HF model "
                                              "lives on the same GPU)")
    tensor_parallel_size: int = _arg(1, "engine=vllm: shard vLLM's weights over this many GPUs (one process "
                                        "only: a torchrun / accelerate launch is data parallel)")
    guard: bool = _arg(False, "true: an expert answers a task only if it scores at least the base weights on "
                              "guard_shots held-out documents of that task (validation, else training split; "
                              "never the scored one); otherwise base weights answer that task")
    guard_shots: int = _arg(20, "held-out documents per task the guard compares expert and base weights on")
    shots: int = _arg(10, "held-out documents CEM scores each candidate mix on", group="fewshot")
    cem_preset: str = _arg("cpu", "cpu (population 8, elite_ratio 0.25, init_std 0.3, 4 generations) | "
                                  "reference (32, 0.2, 0.5, 4)", group="fewshot")
    population: int | None = _arg(None, "CEM candidates per generation (overrides the preset)", group="fewshot")
    generations: int | None = _arg(None, "CEM generations (overrides the preset)", group="fewshot")
    elite_ratio: float | None = _arg(None, "CEM elite fraction (overrides the preset)", group="fewshot")
    init_std: float | None = _arg(None, "CEM initial standard deviation (overrides the preset)", group="fewshot")
    alpha: str = _arg("expert", "one alpha per expert | per expert per layer | per expert per targeted matrix "
                                "(the reference implementation's finest)", ALPHA_MODES, group="fewshot")
    normalize: bool = _arg(True, "alpha sums to 1", group="fewshot")
    mix_base: bool = _arg(False, "the base weights (z = 1) join the experts as one more CEM candidate, so a fitted "
                                 "mix can return to base on a task where every expert hurts", group="fewshot")
    seed: int = _arg(0, "seed of the held-out sample and of CEM", group="fewshot")
    fewshot_dir: str | None = _arg(None, "where fitted mixes are saved and reused (default: the t2eval cache)",
                                   group="fewshot")

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                value = as_bool(f.name, value)
            elif not f.type.startswith("str"):  # text stays text: strategy=none is a strategy's name
                value = as_annotated(f.name, value, f.type)
            if f.metadata["choices"]:
                as_choice(f.name, value, f.metadata["choices"])
            setattr(self, f.name, value)

    @classmethod
    def split(cls, kwargs: dict) -> tuple["T2Args", dict]:
        """(t2's arguments, the rest for HFLM) from one ``--model_args`` dict; a misspelled
        name is refused here, before anything loads."""
        own = {f.name for f in fields(cls)}
        check_misspelled(kwargs, own)
        return cls(**{k: v for k, v in kwargs.items() if k in own}), {k: v for k, v in kwargs.items() if k not in own}


def hflm_args() -> list[str]:
    from lm_eval.models.huggingface import HFLM

    return [n for n in inspect.signature(HFLM.__init__).parameters if n not in ("self", "kwargs")]


def check_misspelled(kwargs: dict, own: set[str]) -> None:
    """A model argument that is neither t2's nor HFLM's goes on to from_pretrained; one that
    is a near-miss of a known argument is a typo, and would fail deep inside the model class."""
    known = [*own, *hflm_args()]
    for name in kwargs:
        if name in known:
            continue
        near = closest(name, known, cutoff=0.75)
        if near:
            raise ValueError(f"unknown t2 model argument {name!r} — did you mean {near!r}? "
                             f"t2's own arguments: {', '.join(f.name for f in fields(T2Args))} (and HFLM's)")


def help_table(markdown: bool = False) -> str:
    """Every t2 argument with its default and help, grouped (plain text, or a markdown table)."""
    rows = []
    for f in fields(T2Args):
        default = "—" if f.default in (None, MISSING) else str(f.default).lower() if isinstance(f.default, bool) else f.default
        rows.append((f.metadata["group"], f.name, str(default), f.metadata["help"]))
    if markdown:
        lines = ["| argument | default | what it does |", "|---|---|---|"]
        lines += [f"| `{name}` | `{default}` | {text.replace('|', chr(92) + '|')}"
                  f"{' (few-shot CEM)' if group == 'fewshot' else ''} |" for group, name, default, text in rows]
        return "\n".join(lines)
    width = max(len(name) for _, name, _, _ in rows)
    out, last = [], None
    for group, name, default, text in rows:
        if group != last:
            out.append("few-shot (strategy=fewshot: CEM over mixing weights, once per task, saved and reused):"
                       if group == "fewshot" else "")
            last = group
        out.append(f"{name:<{width}}  {text} [default: {default}]")
    return "\n".join(out).strip("\n")
