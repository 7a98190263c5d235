"""Helpers the task YAMLs in this folder reference with ``!function utils.<name>``."""

from __future__ import annotations

from t2eval import scoring


def load_splits(dataset: str, **_metadata):
    """custom_dataset: every split of a t2eval dataset (local dir via $T2EVAL_DATA_DIR, else hub)."""
    import datasets

    from t2eval.data import get_spec, load_split

    return datasets.DatasetDict({split: load_split(dataset, split) for split in get_spec(dataset).splits})


def arc_prompt(doc: dict) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in scoring.arc_options(doc))
    return (f"{doc['question']}\n\nOptions:\n{options}\n\n"
            "Answer with the letter of the correct option only.")


def arc_target(doc: dict) -> str:
    return scoring.arc_gold_letter(doc)


def arc_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": scoring.score_arc(results[0], doc)}


def gsm8k_prompt(doc: dict) -> str:
    return (f"{doc['question']}\n\nSolve the problem step by step. End with a line of the form "
            "'The answer is N.' where N is the final number.")


def gsm8k_target(doc: dict) -> str:
    return doc["answer"].split("####")[-1].strip()


def gsm8k_results(doc: dict, results: list[str]) -> dict:
    return {"exact_match": scoring.score_gsm8k(results[0], doc)}
