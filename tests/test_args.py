"""``--model_args`` of ``--model t2``: one dataclass, typed and checked before anything loads."""

from __future__ import annotations

from dataclasses import fields

import pytest

from t2eval.harness.args import T2Args, help_table


def test_text_values_become_typed_values():
    args = T2Args(shots="3", population="None", normalize="false", gpu_memory_utilization="0.3",
                  allow_foreign="1", share_context="no")
    assert (args.shots, args.population, args.normalize, args.gpu_memory_utilization) == (3, None, False, 0.3)
    assert args.allow_foreign is True and args.share_context is False  # 1 / no are booleans too


@pytest.mark.parametrize("given,message", [
    (dict(shots="x"), "shots='x': expected int"),
    (dict(allow_foreign="maybe"), "allow_foreign must be true or false"),
    (dict(alpha="row"), "alpha must be 'expert' or 'layer' or 'matrix', got 'row'"),
    (dict(engine="tpu"), "engine must be 'hf' or 'vllm'"),
])
def test_bad_values_name_the_argument(given, message):
    with pytest.raises(ValueError, match=message):
        T2Args(**given)


def test_split_separates_hflm_arguments_and_refuses_typos():
    args, rest = T2Args.split({"strategy": "none", "batch_size": 4, "device": "cpu"})
    assert args.strategy == "none" and rest == {"batch_size": 4, "device": "cpu"}
    with pytest.raises(ValueError, match="unknown t2 model argument 'shot' — did you mean 'shots'"):
        T2Args.split({"shot": 3})


def test_the_help_table_lists_every_argument_once():
    text, table = help_table(), help_table(markdown=True)
    for f in fields(T2Args):
        assert text.count(f"\n{f.name} ") + text.startswith(f"{f.name} ") == 1, f.name
        assert table.count(f"| `{f.name}` |") == 1, f.name
