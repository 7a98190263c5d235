"""Runs one toy training job (tiny random Llama, test_train's toy task); launched by
tests/test_data_parallel_train.py alone or under torchrun. Usage:
    python tests/dp_train_worker.py RUN_DIR OBJECTIVE STEPS [--resume] [--kill-after N]
--kill-after N: rank 0 kills itself with SIGKILL after update N (its checkpoint is written)."""

from __future__ import annotations

import os
import signal
import sys

import torch
from safetensors.torch import save_file

from test_train import CharTokenizer, tiny, toy_config, toy_task
from t2eval.train import Trainer


def main(argv: list[str]) -> None:
    run_dir, objective, steps = argv[0], argv[1], int(argv[2])
    kill_after = int(argv[argv.index("--kill-after") + 1]) if "--kill-after" in argv else None
    torch.manual_seed(0)
    cfg = toy_config(objective=objective, steps=steps, batch_size=8, micro_batch=2, ckpt_every=1, eval_every=2,
                     samples=2 if objective == "rl" else 1, baseline="loo" if objective == "rl" else "none")
    trainer = Trainer(cfg, run_dir, model=tiny(), tokenizer=CharTokenizer(), task=toy_task(), progress=False,
                      resume="--resume" in argv)

    def on_step(step, stats):
        if step == kill_after and trainer.ranks.rank == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    trainer.on_step = on_step
    trainer.run()
    z = {str(i): p.detach().clone() for i, p in enumerate(trainer.params)}
    save_file(z, os.path.join(run_dir, f"z_rank{trainer.ranks.rank}.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1:])
