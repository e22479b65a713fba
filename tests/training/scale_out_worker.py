"""Runs of the micro DiT on the shared loop for tests/training/test_scale_out.py.

Imported by the test (one process) and started by torchrun (`python scale_out_worker.py JOBS_JSON`,
several processes, gloo). JOBS_JSON is a list of run specs, run in order in the same process group:
{"shards", "run_dir", "max_steps", "resume" (null or a checkpoint folder), "checkpointing",
"precision", "fsdp"}; or
{"fsdp_step": OUT_FILE, "shards"} for one raw FSDP2 step (see `fsdp2_step`).

What makes runs with different process counts comparable: the loop gives every process its own
RNG stream (seed + 1000 x rank), so the diffusion noise of a clip depends on the process count.
`ItemSeededDiT` draws each clip's noise and timestep from (step, clip index) instead, and the
shard sampler already gives every step the same set of clips whatever the process count
(global batch 4 = 4 x 1 = 2 x 2). Condition dropout is off. Then a step on 2 processes and a step
on 1 must agree up to float summation order, and so must a run resumed with another count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import MICRO_DIT  # noqa: E402

from reducio.data.latents import LatentShardDataset  # noqa: E402
from reducio.training.config import (  # noqa: E402
    DiTModelSection,
    DiTOptimSection,
    DiTTrainConfig,
    EMASection,
    LatentDataSection,
    LoggingSection,
    LoRASection,
    RunSection,
    diffusion_config,
)
from reducio.training.data import first_items_batch  # noqa: E402
from reducio.training.dit_objective import DiTObjective, build_dit  # noqa: E402
from reducio.training.fsdp import whole_tensor as full  # noqa: E402
from reducio.training.loop import Trainer  # noqa: E402

GLOBAL_BATCH = 4


class Indexed(Dataset):
    """The shard items with their index (the key of their noise)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.dataset[index], "index": index}


class ItemSeededDiT(DiTObjective):
    """DiTObjective whose noise / timestep per clip come from (step, clip index); logs the gradient norm."""

    def setup(self, accelerator) -> None:
        super().setup(accelerator)
        prepare = self.diffusion.prepare

        def seeded_prepare(latent, **_):                                             # latent: B C t h w
            noise, timesteps = [], []
            for index in self._indices:
                generator = torch.Generator().manual_seed(100_000 * self._step + index)
                noise.append(torch.randn(latent.shape[1:], generator=generator))
                timesteps.append(self.diffusion.sample_timesteps(1, generator=generator))
            return prepare(latent, noise=torch.stack(noise).to(latent.device),
                           timesteps=torch.cat(timesteps).to(latent.device))

        self.diffusion.prepare = seeded_prepare
        optimizer_step = self.opt.step

        def recording_step(*args, **kwargs):
            # After DDP's all-reduce every process holds the global mean gradient: a process that
            # summed instead of averaging (or did not sync) shows here, though Adam would hide it.
            # (sharded gradients, train.fsdp: gathered whole first, on every process)
            grads = [full(p.grad.detach()).float().pow(2).sum() for p in self.params if p.grad is not None]
            self._grad_norm = float(torch.stack(grads).sum().sqrt())
            return optimizer_step(*args, **kwargs)

        self.opt.step = recording_step

    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        self._indices, self._step = batch["index"].tolist(), step
        logs = super().training_step(batch, step)
        return {**logs, "grad/norm": self._grad_norm}


def run_config(shards: str, *, max_steps: int, world_size: int, checkpointing: bool,
               precision: str = "no", fsdp: bool = False, lora_base: str | None = None) -> DiTTrainConfig:
    """`lora_base`: a saved DiT folder; the run then trains a rank-2 LoRA on it (frozen)."""
    return DiTTrainConfig(
        model=DiTModelSection(preset="tiny", overrides=dict(MICRO_DIT), init=lora_base),
        lora=LoRASection(rank=2 if lora_base else 0),
        data=LatentDataSection(root=shards, batch_size=GLOBAL_BATCH // world_size, num_workers=0),
        optim=DiTOptimSection(lr=1e-3, eps=1e-8, weight_decay=0.01, warmup_steps=2, grad_clip=1e3),
        diffusion={"text_drop_prob": 0.0, "image_drop_prob": 0.0},
        train=RunSection(max_steps=max_steps, mixed_precision=precision, gradient_checkpointing=checkpointing, cpu=True,
                         log_every=1, sample_every=0, save_every=2, keep_last=5, fsdp=fsdp),
        ema=EMASection(enabled=True, decay=0.5),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=2),
    )


def train(shards: str, run_dir: str, *, max_steps: int, world_size: int, resume: str | None = None,
          checkpointing: bool = False, precision: str = "no", fsdp: bool = False, lora_base: str | None = None) -> None:
    dataset = LatentShardDataset(shards)
    config = run_config(shards, max_steps=max_steps, world_size=world_size, checkpointing=checkpointing,
                        precision=precision, fsdp=fsdp, lora_base=lora_base)
    Trainer(config, ItemSeededDiT(config, dataset.info), Indexed(dataset), run_dir=run_dir, resume=resume).fit()


def fsdp2_step(shards: str, *, steps: int = 2) -> dict[str, Any]:
    """`steps` AdamW steps of the micro DiT on the same global batch, with torch's FSDP2 (`fully_shard`,
    one unit per transformer block plus the root) when a process group is up, else plainly.

    Returns the global mean losses, the global gradient norms and the full (unsharded) weights.
    Not the trainer: accelerate 1.15 enables FSDP only on GPU backends (see docs/train-on-many-gpus.md).
    """
    import torch.distributed as dist

    from reducio.pipelines.extract import build_content_encoder, build_semantic_encoder
    from reducio.diffusion import make_objective
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    dataset = LatentShardDataset(shards)
    config = run_config(shards, max_steps=steps, world_size=world, checkpointing=False)
    torch.manual_seed(0)
    dit = build_dit(config.model).train()
    # The objective only supplies the conditions (as in the trainer's step); the step is written out.
    objective = DiTObjective(config, dataset.info, dit=dit)
    objective.accelerator = SimpleNamespace(device=torch.device("cpu"))
    objective.encoders = {name: builder(objective.plan[name], device="cpu") for name, builder in
                          (("semantic", build_semantic_encoder), ("content", build_content_encoder))}
    diffusion = make_objective(diffusion_config(config.diffusion, dit.config.prediction_type))
    if distributed:
        from torch.distributed.fsdp import fully_shard

        for block in dit.blocks:
            fully_shard(block)
        fully_shard(dit)
    opt = torch.optim.AdamW(dit.parameters(), lr=1e-3, eps=1e-8, weight_decay=0.01)
    batch = first_items_batch(Indexed(dataset), GLOBAL_BATCH)
    local = GLOBAL_BATCH // world
    mine = {k: v[rank * local:(rank + 1) * local] for k, v in batch.items()}     # this rank's clips
    losses, norms = [], []
    for step in range(steps):
        generators = [torch.Generator().manual_seed(100_000 * step + int(i)) for i in mine["index"]]
        noise = torch.stack([torch.randn(mine["latent"].shape[1:], generator=g) for g in generators])
        timesteps = torch.cat([diffusion.sample_timesteps(1, generator=g) for g in generators])
        noisy = diffusion.prepare(mine["latent"], noise=noise, timesteps=timesteps)
        loss = diffusion.loss(dit(noisy.noisy, noisy.timesteps, **objective.conditions(mine), return_dict=False)[0], noisy)
        loss.backward()
        grads = [full(p.grad) for p in dit.parameters() if p.grad is not None]
        norms.append(float(torch.stack([g.float().pow(2).sum() for g in grads]).sum().sqrt()))
        opt.step()
        opt.zero_grad(set_to_none=True)
        value = loss.detach().clone()
        if distributed:
            dist.all_reduce(value)
            value /= world
        losses.append(float(value))
    weights = {k: full(v).detach().clone() for k, v in dit.state_dict().items()}
    return {"losses": losses, "grad_norms": norms, "weights": weights,
            "sharded": type(next(dit.parameters())).__name__}


def main(jobs_file: str) -> None:
    import os

    torch.set_num_threads(1)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    for job in json.loads(Path(jobs_file).read_text()):
        if "fsdp_step" in job:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo")
            result = fsdp2_step(job["shards"])
            if dist.get_rank() == 0:
                torch.save(result, job["fsdp_step"])
            continue
        train(job["shards"], job["run_dir"], max_steps=job["max_steps"], world_size=world_size,
              resume=job.get("resume"), checkpointing=job.get("checkpointing", False),
              precision=job.get("precision", "no"), fsdp=job.get("fsdp", False), lora_base=job.get("lora_base"))


if __name__ == "__main__":
    main(sys.argv[1])
