"""Kill safety: `reducio train` killed with SIGKILL at random moments and resumed with --resume logs
the same per-step losses as a run that was never interrupted, bit for bit.

The kill moments come from a seeded generator (the seed is printed; set REDUCIO_KILL_SEED to
replay a failure). Each kill waits for a checkpoint newer than the last resume point, so every
round makes progress, then lets the process run a random 0-0.6 s more: the kill lands in a
training step, a metrics write or a checkpoint save.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reducio.training.checkpoint import CheckpointManager, checkpoint_step
from reducio.training.logging import read_metrics

STEPS = 12
KILLS = 3
REDUCIO = Path(sys.executable).parent / "reducio"  # the entry point of this interpreter, never PATH's
TINY = ["--recipe", "tiny-cpu", "--max-steps", str(STEPS),
        "--set", "data.size=32", "--set", "data.frames=8", "--set", "model.overrides.frames=8",
        "--set", "data.batch_size=1", "--set", "train.save_every=1", "--set", "train.sample_every=1000",
        "--set", "train.log_every=1", "--set", "train.keep_last=2",
        "--set", "logging.progress_bar=false", "--set", "logging.tensorboard=false"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def _start(run_dir: Path, resume: bool) -> subprocess.Popen:
    argv = [str(REDUCIO), "train", "vae", "--output-dir", str(run_dir)]
    argv += ["--resume", "--max-steps", str(STEPS)] if resume else TINY
    return subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> None:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out[-3000:]


def _latest_step(run_dir: Path) -> int:
    latest = CheckpointManager(run_dir).latest()
    return -1 if latest is None else checkpoint_step(latest)


def _losses(run_dir: Path) -> list[tuple[int, dict[str, float]]]:
    return [(r["step"], {k: v for k, v in r.items() if k.startswith("loss/")})
            for r in read_metrics(run_dir) if "loss/total" in r]


@pytest.mark.skipif(not REDUCIO.is_file(), reason=f"no reducio entry point next to {sys.executable}")
def test_sigkill_at_random_moments_then_resume_gives_the_same_losses(tmp_path):
    seed = int(os.environ.get("REDUCIO_KILL_SEED", random.SystemRandom().randrange(2**31)))
    print(f"kill seed {seed} (REDUCIO_KILL_SEED={seed} replays these kill moments)")
    rng = random.Random(seed)
    straight = _start(tmp_path / "straight", resume=False)  # runs beside the killed one: 2 processes
    run_dir = tmp_path / "killed"
    process = _start(run_dir, resume=False)
    resumed_at, kills = -1, 0
    while kills < KILLS:
        deadline = time.time() + 60
        while _latest_step(run_dir) <= resumed_at and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        if process.poll() is not None:
            break  # finished before this kill: nothing left to interrupt
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        resumed_at = _latest_step(run_dir)
        print(f"kill {kills}: latest complete checkpoint step {resumed_at}")
        process = _start(run_dir, resume=True)
    _finish(process)
    _finish(straight)

    assert kills >= 2, "the run finished before it could be killed twice: make it longer"
    expected, got = _losses(tmp_path / "straight"), _losses(run_dir)
    assert [step for step, _ in expected] == list(range(1, STEPS + 1))
    assert [step for step, _ in got] == [step for step, _ in expected], "each step logged once, in order"
    for (step, want), (_, have) in zip(expected, got):
        assert have == want, f"step {step} (kill seed {seed}): {json.dumps(have)} != {json.dumps(want)}"


def test_a_metrics_line_cut_by_a_kill_is_dropped_on_resume(tmp_path):
    from reducio.training.logging import MetricsWriter

    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 1, "loss/total": 1.0}\n{"step": 2, "loss/total": 0.5}\n{"step": 3, "loss/to')
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
    MetricsWriter(tmp_path, tensorboard=False).truncate_after(1)
    assert log.read_text() == '{"step": 1, "loss/total": 1.0}\n'
    assert not list(tmp_path.glob(".*.tmp"))


def test_json_files_are_replaced_whole(tmp_path, monkeypatch):
    from reducio.training import checkpoint

    target = tmp_path / "config.json"
    checkpoint.write_json(target, {"a": 1})

    def killed(*args):
        raise KeyboardInterrupt("killed between writing and renaming")

    monkeypatch.setattr(checkpoint.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.write_json(target, {"a": 2, "long": "x" * 10_000})
    assert json.loads(target.read_text()) == {"a": 1}
