"""Two processes with torchrun (gloo, CPU): DDP training, per-process RNG in checkpoints, exact resume."""

import subprocess
import textwrap
from pathlib import Path

import pytest

from reducio.training.logging import read_metrics
from training_toys import require_torchrun

SCRIPT = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, sys.argv[4])
    torch.set_num_threads(1)
    from training_toys import SquaresDataset, ToyVAE, toy_config
    from reducio.training.loop import Trainer
    from reducio.training.vae_objective import VAEObjective
    config = toy_config()
    config = config.replace(train=config.train.replace(max_steps=int(sys.argv[2]), save_every=2))
    torch.manual_seed(0)
    resume = None if sys.argv[3] == "new" else "latest"
    Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(length=8), run_dir=sys.argv[1],
            resume=resume).fit()
""")


@pytest.mark.slow
def test_two_processes_train_save_and_resume_exactly(tmp_path):
    torchrun = require_torchrun()
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)

    def launch(run_dir, steps, mode):
        result = subprocess.run(
            [str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), str(run_dir), str(steps), mode,
             str(Path(__file__).parent)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]

    launch(tmp_path / "straight", 4, "new")
    launch(tmp_path / "split", 2, "new")
    launch(tmp_path / "split", 4, "resume")
    assert sorted(p.name for p in (tmp_path / "split/checkpoints/step-00000004/rng").iterdir()) == ["rank0.pt", "rank1.pt"]
    keys = ["loss/total", "loss/disc", "disc/d_weight"]
    straight = [[r[k] for k in keys] for r in read_metrics(tmp_path / "straight") if "loss/total" in r]
    split = [[r[k] for k in keys] for r in read_metrics(tmp_path / "split") if "loss/total" in r]
    assert len(straight) == 4 and straight == split
