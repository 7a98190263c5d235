"""A folder of expert files for one base model, indexed by name and by pass-1 label."""

from __future__ import annotations

from ..names import did_you_mean
import os
from dataclasses import dataclass
from pathlib import Path

from ..svf import Expert, ExpertError, load_expert

EXPERTS_ENV = "T2EVAL_EXPERTS"


def default_experts_dir(model_slug: str) -> Path | None:
    """``$T2EVAL_EXPERTS`` when set: its ``<slug>/`` subfolder, or the folder itself when it
    holds expert files (a flat folder); else the shipped ``experts/<slug>`` (installed with the
    package as ``t2eval.experts``), if present."""
    if os.environ.get(EXPERTS_ENV):
        root = Path(os.environ[EXPERTS_ENV]).expanduser()
        if (root / model_slug).is_dir():
            return root / model_slug
        if root.is_dir() and any(root.glob("*.safetensors")):
            return root
        raise ExpertError(f"${EXPERTS_ENV}={root} has neither a {model_slug}/ folder nor expert files "
                          "(*.safetensors); point it at a folder of experts, or unset it for the shipped ones")
    shipped = shipped_experts_root() / model_slug
    return shipped if shipped.is_dir() else None


def shipped_experts_root() -> Path:
    """The experts installed with the package (``t2eval.experts``: the checkout's ``experts/``
    in an editable install, site-packages' copy in a regular one)."""
    import t2eval.experts as shipped

    return Path(shipped.__file__).parent


@dataclass
class ExpertLibrary:
    """Experts by name; ``by_label`` maps a pass-1 label ("math", "code", ...) to an expert."""

    experts: dict[str, Expert]
    folder: Path | None = None

    @classmethod
    def from_folder(cls, folder: str | Path | None) -> "ExpertLibrary":
        if folder is None:
            return cls({}, None)
        folder = Path(folder)
        if not folder.is_dir():
            raise ExpertError(f"experts folder {folder} does not exist; pass experts=<folder of "
                              "*.safetensors expert files> or leave it unset for the shipped experts")
        experts = {}
        for path in sorted(folder.glob("*.safetensors")):
            expert = load_expert(path)
            experts[expert.name or path.stem] = expert
        return cls(experts, folder)

    @property
    def by_label(self) -> dict[str, Expert]:
        return {e.label: e for e in self.experts.values() if e.label and e.label != "cls"}

    @property
    def targets(self) -> str | None:
        """The one target spec all experts share (None when empty)."""
        specs = {e.targets for e in self.experts.values()}
        if len(specs) > 1:
            raise ExpertError(f"experts in {self.folder} use different targets {sorted(specs)}; "
                              "put experts of one target spec in one folder")
        return specs.pop() if specs else None

    def get(self, name: str) -> Expert:
        if name in self.experts:
            return self.experts[name]
        raise ExpertError(f"unknown expert '{name}'{did_you_mean(name, self.experts)} available in {self.folder}: "
                          f"{', '.join(self.experts) or '(none)'}")
