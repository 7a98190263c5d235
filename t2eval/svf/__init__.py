"""Singular Value Fine-tuning (SVF): decompose, express experts as z vectors, apply them.

Typical use::

    model, tok = load_model()                        # t2eval.models
    dec = decompose(model, "mlp")                    # cached thin SVD
    adapter = SVFAdapter(model, dec)
    with adapter.applied(load_expert("math.safetensors")):
        ...                                          # model answers with W' = U diag(S z) Vh

Rescale default: experts carry ``rescale=True`` unless made otherwise, i.e. W' is
multiplied by sum(S) / sum(S * z), as in the reference implementation: scaling z
uniformly is then a no-op, so a sigmoid-parametrised z in (0, 1) and un-normalised
mixing weights cannot shrink or blow up a layer's overall scale.
"""

from .adapter import SVFAdapter
from .factors import Decomposition, Factors, StaleCacheError, decompose
from .expert import (Expert, ExpertError, check_compatible, load_expert, ones_expert, save_expert,
                     shuffled)
from .fingerprint import model_fingerprint
from .mixing import MergedBank, mix_experts
from .targets import PRESETS, TargetError, layer_index, select_targets

__all__ = [
    "SVFAdapter", "Decomposition", "Factors", "StaleCacheError", "decompose", "Expert", "ExpertError",
    "check_compatible", "load_expert", "ones_expert", "save_expert", "shuffled", "model_fingerprint",
    "MergedBank", "mix_experts", "PRESETS", "TargetError", "layer_index", "select_targets",
]
