"""DiT scale-out on CPU: 2 gloo processes (torchrun) against 1 process on the same global batch.

- DDP: the mean loss, the global gradient norm and the weights (model and EMA) after each step of a
  2 x 2 run equal those of a 1 x 4 run (the 2-process run also uses activation checkpointing);
  a bf16 2 x 2 step stays within bf16 rounding of the fp32 one.
- A checkpoint written by 2 processes resumes in 1 and one written by 1 resumes in 2, continuing
  like the uninterrupted run.
- FSDP2 (`torch.distributed.fsdp.fully_shard`) of the DiT on 2 gloo processes: the same steps, as a
  raw step and through the trainer (`train.fsdp`), with resume across sharding both ways.

How noise is made comparable across process counts: tests/training/scale_out_worker.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
import scale_out_worker as worker  # noqa: E402
from latent_toys import HashText, micro_vae  # noqa: E402

from reducio.pipelines.extract import ExtractConfig, extract  # noqa: E402
from reducio.training.logging import read_metrics  # noqa: E402
from training_toys import require_torchrun  # noqa: E402

WORKER = Path(__file__).resolve().parent / "scale_out_worker.py"
KEYS = ("loss/total", "grad/norm", "lr/dit")
# skipped without torchrun next to the interpreter, failed under CI (training_toys.require_torchrun)
needs_torchrun = pytest.mark.usefixtures("torchrun_available")


@pytest.fixture
def torchrun_available() -> Path:
    return require_torchrun()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """8 synthetic clips of micro-VAE latents (2 steps of global batch 4 per epoch)."""
    root = tmp_path_factory.mktemp("scale_out") / "shards"
    torch.set_num_threads(1)
    config = ExtractConfig(output=str(root), source="synthetic", count=8, size=32, frames=8, shard_size=4,
                           vae="random:micro", text_encoder="hash", device="cpu")
    extract(config, vae=micro_vae(), text_encoder=HashText(), rank=0, world_size=1, progress=False)
    return str(root)


def torchrun(jobs: list[dict], tmp_path: Path) -> None:
    jobs_file = tmp_path / f"jobs-{len(list(tmp_path.glob('jobs-*')))}.json"
    jobs_file.write_text(json.dumps(jobs))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(require_torchrun()), "--standalone", "--nproc_per_node", "2", str(WORKER), str(jobs_file)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def metrics(run_dir: Path) -> list[dict[str, float]]:
    return [{k: r[k] for k in KEYS} | {"step": r["step"]} for r in read_metrics(run_dir) if "loss/total" in r]


def assert_same_metrics(got: list[dict], want: list[dict]) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in want]
    for a, b in zip(got, want):
        for key in KEYS:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["step"], key, a[key], b[key])


def assert_same_checkpoint(got: Path, want: Path) -> None:
    for part in ("models/dit.safetensors", "ema.safetensors"):
        a, b = load_file(got / part), load_file(want / part)
        assert sorted(a) == sorted(b)
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=2e-5, msg=lambda m: f"{part} {name}: {m}")
    assert json.loads((got / "state.json").read_text())["data"] == json.loads((want / "state.json").read_text())["data"]


def checkpoint(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:08d}"


@pytest.mark.slow
@needs_torchrun
def test_ddp_steps_and_resume_across_process_counts_match_one_process(shards, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    two_then_one, one_then_two = tmp_path / "two-then-one", tmp_path / "one-then-two"
    worker.train(shards, str(one), max_steps=4, world_size=1)  # reference: 1 process x batch 4
    torchrun([
        {"shards": shards, "run_dir": str(two), "max_steps": 4, "checkpointing": True},
        {"shards": shards, "run_dir": str(one_then_two), "max_steps": 4, "checkpointing": True,
         "resume": str(checkpoint(one, 2))},
    ], tmp_path)
    worker.train(shards, str(two_then_one), max_steps=4, world_size=1, resume=str(checkpoint(two, 2)))

    reference = metrics(one)
    assert len(reference) == 4 and reference[0]["loss/total"] != reference[-1]["loss/total"]
    # DDP, 2 x 2 (with activation checkpointing) == 1 x 4: every step's mean loss, gradient norm, LR, weights
    assert_same_metrics(metrics(two), reference)
    for step in (2, 4):
        assert_same_checkpoint(checkpoint(two, step), checkpoint(one, step))
    assert sorted(p.name for p in (checkpoint(two, 4) / "rng").iterdir()) == ["rank0.pt", "rank1.pt"]
    # saved by 2, resumed by 1 / saved by 1, resumed by 2: steps 3-4 as in the uninterrupted run
    for resumed in (two_then_one, one_then_two):
        assert_same_metrics(metrics(resumed), reference[2:])
        assert_same_checkpoint(checkpoint(resumed, 4), checkpoint(one, 4))
    config = json.loads((one_then_two / "config.json").read_text())
    assert config["effective"]["num_processes"] == 2 and config["effective"]["global_batch_size"] == 4


@pytest.mark.slow
@needs_torchrun
def test_lora_ddp_steps_and_resume_match_one_process(shards, tmp_path):
    """A LoRA on a frozen saved DiT: DDP over the adapter's parameters only, EMA of the adapter."""
    from reducio.models.dit import DiTConfig, ReducioDiT

    torch.manual_seed(0)
    base = ReducioDiT(DiTConfig.preset("tiny").replace(**worker.MICRO_DIT))
    with torch.no_grad():  # every weight random: the real init zeroes the output layer
        for parameter in base.parameters():
            parameter.normal_(0.0, 0.05)
    base.save_pretrained(tmp_path / "base")
    one, two, two_then_one = tmp_path / "one", tmp_path / "two", tmp_path / "two-then-one"
    worker.train(shards, str(one), max_steps=4, world_size=1, lora_base=str(tmp_path / "base"))
    torchrun([{"shards": shards, "run_dir": str(two), "max_steps": 4, "lora_base": str(tmp_path / "base")}], tmp_path)
    worker.train(shards, str(two_then_one), max_steps=4, world_size=1, resume=str(checkpoint(two, 2)),
                 lora_base=str(tmp_path / "base"))
    reference = metrics(one)
    assert len(reference) == 4 and reference[0]["loss/total"] != reference[-1]["loss/total"]
    assert_same_metrics(metrics(two), reference)
    assert_same_metrics(metrics(two_then_one), reference[2:])
    for got in (checkpoint(two, 4), checkpoint(two_then_one, 4)):
        assert_same_checkpoint(got, checkpoint(one, 4))
    assert all(".lora_" in name for name in load_file(checkpoint(two, 4) / "ema.safetensors"))
    assert sorted(p.name for p in (two / "final").iterdir()) == ["pytorch_lora_weights.safetensors"]


@pytest.mark.slow
@needs_torchrun
def test_bf16_ddp_step_is_the_fp32_step_up_to_rounding(shards, tmp_path):
    # A separate launch: accelerate fixes the precision once per process.
    fp32, bf16 = tmp_path / "fp32", tmp_path / "bf16"
    worker.train(shards, str(fp32), max_steps=2, world_size=1)
    torchrun([{"shards": shards, "run_dir": str(bf16), "max_steps": 2, "checkpointing": True,
               "precision": "bf16"}], tmp_path)
    assert json.loads((bf16 / "config.json").read_text())["effective"]["mixed_precision"] == "bf16"
    # The zero-initialised blocks make step 1's loss almost precision-free; its gradients are not.
    for got, want in zip(metrics(bf16), metrics(fp32), strict=True):
        assert got["grad/norm"] != want["grad/norm"]  # autocast did run in bf16
        assert got["grad/norm"] == pytest.approx(want["grad/norm"], rel=5e-2)
        assert got["loss/total"] == pytest.approx(want["loss/total"], rel=2e-2)


@pytest.mark.slow
@needs_torchrun
def test_fsdp2_sharded_dit_steps_match_one_process(shards, tmp_path):
    out = tmp_path / "fsdp.pt"
    torchrun([{"fsdp_step": str(out), "shards": shards}], tmp_path)
    sharded = torch.load(out, weights_only=True)
    plain = worker.fsdp2_step(shards)
    assert sharded["sharded"] == "DTensor" and plain["sharded"] == "Parameter"
    assert sharded["losses"] == pytest.approx(plain["losses"], rel=1e-5)
    assert sharded["grad_norms"] == pytest.approx(plain["grad_norms"], rel=1e-4)
    assert sorted(sharded["weights"]) == sorted(plain["weights"])
    for name, value in plain["weights"].items():
        torch.testing.assert_close(sharded["weights"][name], value, rtol=1e-4, atol=2e-5)


@pytest.mark.slow
@needs_torchrun
def test_trainer_fsdp_matches_one_process_and_resumes_across_sharding(shards, tmp_path):
    """`train.fsdp=true` in the shared loop: 2 sharded processes x 2 clips == 1 plain process x 4
    at every step (loss, gradient norm, LR, whole weights and EMA in the checkpoints); a sharded
    checkpoint resumes unsharded in 1 process and an unsharded one resumes sharded in 2; the
    exported final/ is the whole model."""
    from reducio.models.dit import ReducioDiT

    one, fsdp = tmp_path / "one", tmp_path / "fsdp"
    fsdp_then_one, one_then_fsdp = tmp_path / "fsdp-then-one", tmp_path / "one-then-fsdp"
    worker.train(shards, str(one), max_steps=4, world_size=1)
    torchrun([
        {"shards": shards, "run_dir": str(fsdp), "max_steps": 4, "checkpointing": True, "fsdp": True},
        {"shards": shards, "run_dir": str(one_then_fsdp), "max_steps": 4, "fsdp": True,
         "resume": str(checkpoint(one, 2))},
    ], tmp_path)
    worker.train(shards, str(fsdp_then_one), max_steps=4, world_size=1, resume=str(checkpoint(fsdp, 2)))

    reference = metrics(one)
    assert_same_metrics(metrics(fsdp), reference)
    for step in (2, 4):
        assert_same_checkpoint(checkpoint(fsdp, step), checkpoint(one, step))
    saved = torch.load(checkpoint(fsdp, 4) / "training.pt", weights_only=True)["optimizers"]["dit"]
    plain = torch.load(checkpoint(one, 4) / "training.pt", weights_only=True)["optimizers"]["dit"]
    assert sorted(saved["state"]) == sorted(plain["state"])          # torch's index-keyed layout
    for index, entry in plain["state"].items():
        torch.testing.assert_close(saved["state"][index]["exp_avg_sq"], entry["exp_avg_sq"], rtol=1e-3, atol=1e-9)
    for resumed in (fsdp_then_one, one_then_fsdp):
        assert_same_metrics(metrics(resumed), reference[2:])
        assert_same_checkpoint(checkpoint(resumed, 4), checkpoint(one, 4))
    exported = ReducioDiT.from_pretrained(fsdp / "final")
    reference_export = ReducioDiT.from_pretrained(one / "final")
    for (name, a), (_, b) in zip(exported.state_dict().items(), reference_export.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=2e-5, msg=lambda m: f"final/{name}: {m}")
    config = json.loads((fsdp / "config.json").read_text())
    assert config["train"]["fsdp"] is True and config["effective"]["dit_sharding"] == "FSDP2 over 2 processes"
    assert json.loads((one / "config.json").read_text())["effective"]["dit_sharding"] == "replicated"
