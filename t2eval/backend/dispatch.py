"""Pass 1 of two-pass inference: the paper's classification prompt and its parsing."""

from __future__ import annotations

import re

LABELS = ("code", "math", "reasoning", "others")

GUIDELINES = {
    "code": "Questions that ask to write, complete, explain or debug computer programs.",
    "math": "Questions that need mathematical calculation, algebra, arithmetic or numerical reasoning.",
    "reasoning": "Questions that need logical, commonsense or scientific reasoning to choose or infer an answer.",
    "others": "Questions that do not fit any of the categories above.",
}

_BOXED = re.compile(r"\\boxed\{\s*([A-Za-z]+)\s*\}")
_STATED = re.compile(r"classification\s*:\s*\**\s*([A-Za-z]+)", re.IGNORECASE)


def classification_prompt(question: str) -> str:
    """The adaptation prompt of the paper (Figure 3 / SPEC, strategy A) around ``question``."""
    guidelines = "\n".join(f"- {label}: {text}" for label, text in GUIDELINES.items())
    return (
        "Analyze the given question and classify it into one of four categories: "
        "'code', 'math', 'reasoning', or 'others'. Follow these guidelines:\n\n"
        f"{guidelines}\n\n"
        "Consider the primary focus, skills, and knowledge required to answer the question.\n"
        "If a question spans multiple categories, choose the most dominant one.\n"
        "Provide your final classification within \\boxed{} notation. Example: \\boxed{reasoning}\n\n"
        "Format your response as follows:\nClassification: \\boxed{category}\n\n"
        f"Question: {question}"
    )


def parse_label(response: str) -> str:
    """The category a pass-1 response gives, else "others".

    The last ``\\boxed{label}`` wins; without one, the prompt's own answer line
    "Classification: label" is accepted (small models often drop the box).
    """
    found = [m.lower() for m in _BOXED.findall(response)] or [m.lower() for m in _STATED.findall(response)]
    return found[-1] if found and found[-1] in LABELS else "others"


def question_of(doc: dict | None, context: str) -> str:
    """The question text of a document: its usual field, else the request's context."""
    for key in ("question", "problem", "prompt", "text"):
        value = (doc or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value
    return context
