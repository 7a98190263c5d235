"""`t2eval params`: exact SVF / PEFT parameter counts from a model's config."""

from __future__ import annotations

import click

from ..models import DEFAULT_MODEL
from ..peft_methods import METHODS as PEFT_METHODS

DEFAULT_PEFT = PEFT_METHODS[0]  # lora: what --lora-rank counts unless --method says otherwise


@click.command()
@click.option("--model", "model_name", default=DEFAULT_MODEL, show_default=True,
              help="Embedded alias, hub id, or folder with a config.json.")
@click.option("--targets", default=None, help="SVF targets: mlp | attn | all | a regex over module names.")
@click.option("--lora-rank", type=int, default=None, help="Count a PEFT adapter of this rank instead.")
@click.option("--lora-modules", default=None,
              help="Comma-separated module names for the PEFT adapter [lora/dora: q_proj,v_proj; "
                   "ia3: k_proj,v_proj,down_proj].")
@click.option("--method", type=click.Choice(list(PEFT_METHODS)), default=DEFAULT_PEFT, show_default=True,
              help="PEFT method counted with --lora-rank (ia3 ignores the rank).")
def params(model_name, targets, lora_rank, lora_modules, method):
    """Print the exact number of trainable parameters (an integer on stdout).

    Builds the model on the meta device from its config alone, so e.g. a Llama-3-8B
    config.json is enough. Example: t2eval params --model ./llama3 --targets mlp
    """
    from ..params import meta_model, peft_param_count, svf_param_count
    from ..svf.targets import TargetError

    use_peft = lora_rank is not None or method != DEFAULT_PEFT  # another --method asks for a PEFT count too
    if (targets is not None) == use_peft:
        raise click.UsageError("give exactly one of --targets (SVF) or --lora-rank/--method (PEFT)")
    model = meta_model(model_name)
    if targets is not None:
        try:
            count = svf_param_count(model, targets)
        except TargetError as err:
            raise click.BadParameter(str(err), param_hint="--targets") from err
        what = f"SVF parameters, targets={targets}"
    else:
        from ..peft_methods import parse_modules

        modules = parse_modules(lora_modules, method)
        count = peft_param_count(model, method, modules, lora_rank or 16)
        what = f"{method} parameters, rank={lora_rank}, modules={','.join(modules)}"
    click.echo(f"# {count / 1e6:.2f}M {what} ({model_name})", err=True)
    click.echo(count)
