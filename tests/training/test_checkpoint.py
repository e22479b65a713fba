import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from reducio.errors import CheckpointError
from reducio.training.checkpoint import (
    CheckpointManager,
    capture_rng_state,
    read_checkpoint,
    resolve_checkpoint,
    restore_rng_state,
    write_json,
    write_torch,
)


def _write_minimal(step):
    def write(tmp: Path, is_main: bool) -> None:
        write_torch(tmp / "rng" / "rank0.pt", capture_rng_state())
        write_torch(tmp / "training.pt", {"step": step})
        write_json(tmp / "config.json", {})
        write_json(tmp / "state.json", {"format_version": 1, "step": step, "data": {"epoch": 0, "batch": step}})
    return write


def test_keep_last_and_latest(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=2)
    for step in (1, 2, 3):
        manager.save(step, _write_minimal(step))
    assert [p.name for p in manager.complete()] == ["step-00000002", "step-00000003"]
    assert manager.latest().name == "step-00000003"
    assert resolve_checkpoint(tmp_path, None) == manager.latest()
    assert resolve_checkpoint(tmp_path, tmp_path) == manager.latest()  # a run dir is accepted too
    assert read_checkpoint(manager.latest())["training"] == {"step": 3}
    with pytest.raises(CheckpointError, match="not a complete checkpoint"):
        resolve_checkpoint(tmp_path, tmp_path / "nope")


def test_incomplete_folders_are_ignored_then_cleaned(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=3)
    manager.save(1, _write_minimal(1))
    (tmp_path / "checkpoints" / ".tmp-step-00000002" / "models").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step-00000005").mkdir()  # no state.json: not complete
    assert manager.latest().name == "step-00000001"
    removed = manager.clean_stale()
    assert [p.name for p in removed] == [".tmp-step-00000002"]


def test_rng_state_round_trips_with_weights_only(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    write_torch(tmp_path / "rng.pt", capture_rng_state())
    expected = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


SLOW_SAVER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    import torch
    import reducio.training.checkpoint as checkpoint
    from reducio.training.loop import Trainer
    from reducio.training.vae_objective import VAEObjective
    from training_toys import SquaresDataset, ToyVAE, toy_config

    real_fsync = checkpoint._fsync_file
    def slow_fsync(path):  # stretch every save so that the kill lands inside one
        real_fsync(path)
        time.sleep(0.15)
    checkpoint._fsync_file = slow_fsync
    torch.set_num_threads(1)
    config = toy_config()
    config = config.replace(train=config.train.replace(max_steps=10_000, save_every=1, keep_last=2))
    torch.manual_seed(0)
    Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(8), run_dir=sys.argv[1]).fit()
""")


def test_sigkill_during_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SLOW_SAVER)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir), str(Path(__file__).parent)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manager = CheckpointManager(run_dir)
    deadline = time.time() + 120
    killed_during_save = False
    try:
        while time.time() < deadline and proc.poll() is None:
            tmp = list((run_dir / "checkpoints").glob(".tmp-step-*")) if (run_dir / "checkpoints").is_dir() else []
            # Kill once a checkpoint exists and the next one is half written (models written, state not yet).
            if manager.latest() is not None and tmp and (tmp[0] / "models").is_dir() and any((tmp[0] / "models").iterdir()):
                os.kill(proc.pid, signal.SIGKILL)
                killed_during_save = True
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert killed_during_save, proc.stderr.read().decode()[-2000:]
    assert list((run_dir / "checkpoints").glob(".tmp-step-*")), "the kill should have interrupted a save"
    latest = manager.latest()
    loaded = read_checkpoint(latest)
    assert loaded["state"]["step"] == int(latest.name.split("-")[1])
    assert "vae" in loaded["models"] and loaded["ema"] is not None

    # The next start ignores and removes the half-written folder, and continues from `latest`.
    sys.path.insert(0, str(Path(__file__).parent))
    from training_toys import SquaresDataset, ToyVAE, toy_config
    from reducio.training.loop import Trainer
    from reducio.training.vae_objective import VAEObjective

    config = toy_config()
    step = loaded["state"]["step"]
    config = config.replace(train=config.train.replace(max_steps=step + 1, save_every=1, keep_last=2))
    summary = Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(8), run_dir=run_dir,
                      resume="latest").fit()
    assert summary.start_step == step and summary.final_step == step + 1
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))
