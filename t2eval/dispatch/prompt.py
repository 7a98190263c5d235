"""Pass 1 of two-pass inference: the paper's classification prompt, its layouts and parsing."""

from __future__ import annotations

import re
from typing import Callable

LABELS = ("code", "math", "reasoning", "others")

GUIDELINES = {
    "code": "Questions that ask to write, complete, explain or debug computer programs.",
    "math": "Questions that need mathematical calculation, algebra, arithmetic or numerical reasoning.",
    "reasoning": "Questions that need logical, commonsense or scientific reasoning to choose or infer an answer.",
    "others": "Questions that do not fit any of the categories above.",
}

# How pass 1 is laid out in the chat:
#   user    the paper's Figure 3: instructions and question in one user turn
#   system  the reference code's layout: instructions in the system turn, the question as the user turn
LAYOUTS = ("user", "system")

# Score mode opens the assistant turn with this and scores each label's tokens
ANSWER_PREFIX = "Classification: \\boxed{"
LABEL_END = ""

# Generate mode: the paper's generated classification
PASS1_GEN = {"until": ["\n\n\n"], "max_gen_toks": 48, "do_sample": False}

_BOXED = re.compile(r"\\boxed\{\s*([A-Za-z]+)\s*\}")
_STATED = re.compile(r"classification\s*:\s*\**\s*([A-Za-z]+)", re.IGNORECASE)
_LETTERS = "ABCDEFGHIJ"

# render(messages) -> the text of a chat whose assistant turn is open
Render = Callable[[list[dict]], str]


def instructions() -> str:
    """The classification instructions of the paper (Figure 3 / SPEC, strategy A)."""
    guidelines = "\n".join(f"- {label}: {text}" for label, text in GUIDELINES.items())
    return (
        "Analyze the given question and classify it into one of four categories: "
        "'code', 'math', 'reasoning', or 'others'. Follow these guidelines:\n\n"
        f"{guidelines}\n\n"
        "Consider the primary focus, skills, and knowledge required to answer the question.\n"
        "If a question spans multiple categories, choose the most dominant one.\n"
        "Provide your final classification within \\boxed{} notation. Example: \\boxed{reasoning}\n\n"
        "Format your response as follows:\nClassification: \\boxed{category}"
    )


def classification_prompt(question: str) -> str:
    """The adaptation prompt of the paper around ``question`` (one user turn)."""
    return f"{instructions()}\n\nQuestion: {question}"


def pass1_messages(question: str, layout: str = "user") -> list[dict]:
    """The chat pass 1 sends for ``question`` in ``layout`` (see LAYOUTS)."""
    if layout == "user":
        return [{"role": "user", "content": classification_prompt(question)}]
    if layout == "system":
        return [{"role": "system", "content": instructions()}, {"role": "user", "content": question}]
    raise ValueError(f"pass1_layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")


def parse_label(response: str) -> str:
    """The category a pass-1 response gives, else "others".

    The last ``\\boxed{label}`` wins; without one, the prompt's own answer line
    "Classification: label" is accepted (small models often drop the box).
    """
    found = [m.lower() for m in _BOXED.findall(response)] or [m.lower() for m in _STATED.findall(response)]
    return found[-1] if found and found[-1] in LABELS else "others"


def question_of(doc: dict | None, context: str, options: bool = True) -> str:
    """What pass 1 sees of a document: its question (usual field, else the request's
    context) and, for multiple-choice documents (``options``), the options as the reference
    classifier saw them ("A. ..." one per line)."""
    doc = doc or {}
    question = next((doc[k] for k in ("question", "problem", "prompt", "text")
                     if isinstance(doc.get(k), str) and doc[k].strip()), None)
    if question is None:
        return context
    listed = _options(doc) if options else []
    return question if not listed else question + "\n" + "\n".join(f"{k}. {t}" for k, t in listed)


def _options(doc: dict) -> list[tuple[str, str]]:
    """(key, text) of a multiple-choice document's options: ARC's {"text", "label"} or a list."""
    choices = doc.get("choices")
    if isinstance(choices, dict) and isinstance(choices.get("text"), list):
        keys = choices.get("label") or list(_LETTERS)
        return [(str(k), str(t)) for k, t in zip(keys, choices["text"])]
    if isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices):
        return list(zip(_LETTERS, choices))
    return []
