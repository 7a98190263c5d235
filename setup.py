"""Ships t2eval-lm-eval.pth, the one-line hook that lets the stock `lm_eval` CLI find
`--model t2` and t2eval's tasks (see t2eval/harness/plugin.py). Everything else about
the package is declared in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "t2eval-lm-eval.pth"
PTH_TEXT = Path(__file__).with_name(PTH).read_text()


class BuildPyWithPth(build_py):
    """Regular wheels: put the .pth at the root of site-packages."""

    def run(self):
        super().run()
        Path(self.build_lib, PTH).write_text(PTH_TEXT)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, PTH))]


class _StrategyWithPth:
    """Wraps setuptools' editable strategy and adds the .pth to the editable wheel."""

    def __init__(self, inner):
        self._inner = inner

    def __enter__(self):
        self._inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self._inner.__exit__(*exc)

    def __call__(self, wheel, files, mapping):
        self._inner(wheel, files, mapping)
        wheel.writestr(PTH, PTH_TEXT)


class EditableWheelWithPth(editable_wheel):
    """`pip install -e .`: same .pth, next to setuptools' own editable finder."""

    def _select_strategy(self, *args, **kwargs):
        return _StrategyWithPth(super()._select_strategy(*args, **kwargs))


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
