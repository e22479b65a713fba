"""Reducio-DiT training on precomputed latent shards, through the shared loop (docs/train-dit.md).

One step: noise the stored motion latent (`make_objective(DiffusionConfig)`), drop text / image per
sample for classifier-free guidance (`sample_condition_drop`), predict with the DiT, MSE, AdamW.
Conditions come from the shards; image conditions the shards lack are recomputed from the stored
content frame by frozen encoders (cheap for the built-in PatchPixel / PooledRGB stand-ins).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from reducio.data.latents import (
    BucketGroupedDataset,
    LatentShardDataset,
    check_compatible,
    shard_vae_config,
    ungroup,
)
from reducio.diffusion import (
    guided_prediction,
    init_noise_sigma,
    make_objective,
    make_scheduler,
    sample_condition_drop,
    scale_model_input,
)
from reducio.errors import ConfigError, ReducioError
from reducio.loading.pixart import init_from_pixart
from reducio.models.compatibility import check_dit_fits_vae
from reducio.models.dit import DiTConfig, ReducioDiT, with_patch_size
from reducio.pipelines.extract import build_content_encoder, build_semantic_encoder, load_vae
from reducio.training.config.dit import DiTModelSection, DiTTrainConfig, diffusion_config, dit_config
from reducio.training.fine_tune import fine_tune_patch_size
from reducio.training.fsdp import is_sharded, shard_transformer
from reducio.training.lora import add_lora, lora_parameter_names, save_lora
from reducio.training.objective import Objective, Samples
from reducio.training.schedules import WarmupConstant

logger = logging.getLogger(__name__)

# The built-in stand-ins recomputed from pixels when the shards do not store a condition,
# chosen by the DiT's branch width (docs/architecture.md §8.4: MiniLM 384, patches 192, RGB 3).
BUILTIN_SEMANTIC = {192: "patch-pixel"}
BUILTIN_CONTENT = {3: "pooled-rgb"}


# --------------------------------------------------------------------------------------------
# Models and conditions
# --------------------------------------------------------------------------------------------


def build_dit(section: DiTModelSection) -> nn.Module:
    """A ReducioDiT: from a preset (+ overrides), a saved DiT (`init`), or PixArt weights (`pixart:PATH`)."""
    if section.init and not section.init.startswith("pixart:"):
        logger.info("initialising the DiT from %s", section.init)
        dit = ReducioDiT.from_pretrained(section.init)
        patch_size = fine_tune_patch_size(dit.arch, section.overrides, section.init, "model.overrides")
        return dit if patch_size is None else with_patch_size(dit, patch_size)
    dit = ReducioDiT(dit_config(section))
    if section.init:
        init_from_pixart(dit, section.init[len("pixart:"):])
    return dit


def resolve_conditions(config: DiTConfig, info: dict[str, Any],
                       section: DiTModelSection) -> dict[str, str | None]:
    """For each DiT branch: "stored", an encoder spec to recompute it from the content frame, or None.
    ConfigError when the DiT does not take the latents of the VAE the shards were extracted with."""
    plan: dict[str, str | None] = {"text": None, "semantic": None, "content": None}
    check_dit_fits_vae(config, shard_vae_config(info),
                       where=f"{info.get('vae')!r}, which extracted the shards; or set model.overrides.in_channels")
    if config.text_dim is not None:
        if config.text_dim != info.get("text_dim"):
            raise ConfigError(f"the DiT's text_dim is {config.text_dim} but the shards' text encoder "
                              f"{info.get('text_encoder')!r} gives {info.get('text_dim')}; re-extract or set "
                              "model.overrides.text_dim")
        plan["text"] = "stored"
    for name, width, stored_width, spec, builtin in (
        ("semantic", config.semantic_dim, info.get("semantic_dim"), section.semantic_encoder, BUILTIN_SEMANTIC),
        ("content", config.content_channels, info.get("content_channels"), section.content_encoder, BUILTIN_CONTENT),
    ):
        has = bool(info.get("has_semantic" if name == "semantic" else "has_content_latent"))
        if width is None or spec == "none":
            continue
        if spec in ("auto", "stored") and has and stored_width == width:
            plan[name] = "stored"
        elif spec == "auto" and width in builtin:
            plan[name] = builtin[width]
        elif spec not in ("auto", "stored"):
            plan[name] = spec
        else:
            raise ConfigError(
                f"the DiT's {name} branch takes width {width} but the shards "
                + (f"store width {stored_width}" if has else "do not store it")
                + f"; set model.{name}_encoder to an encoder to recompute it from the content frames, "
                f"'none' to leave the branch unused, or re-extract with --{name}-encoder")
    return plan


# --------------------------------------------------------------------------------------------
# Objective
# --------------------------------------------------------------------------------------------


class DiTObjective(Objective):
    """Trains a ReducioDiT on LatentShardDataset batches (see the module docstring).

    Args:
        config: the run's DiTTrainConfig.
        info: the shards' `info` (LatentShardDataset.info): widths, encoders, the VAE.
        dit: the model (default: `build_dit(config.model)` in setup).
        vae: the VAE decoding validation samples (default: loaded from model.vae or info["vae"]).
        encoders: prebuilt frozen encoders by condition name ("semantic", "content").
    """

    supports_fsdp = True

    def __init__(self, config: DiTTrainConfig, info: dict[str, Any], *, dit: nn.Module | None = None,
                 vae: nn.Module | None = None, encoders: dict[str, nn.Module] | None = None) -> None:
        self.config = config
        self.info = info
        self._dit = dit
        self._vae = vae
        self._vae_failed = False
        self.encoders = dict(encoders or {})
        init = config.model.init
        # checked here, not in the config: `--init` is applied after the `--set` overrides
        if config.lora.enabled and not init and dit is None:
            raise ConfigError(f"lora.rank={config.lora.rank} adapts a trained DiT, but model.init is not set; pass "
                              "--init DIR (a DiT folder, e.g. src/reducio/assets/pipeline-tiny/transformer) or lora.rank=0")
        saved = init is not None and not init.startswith("pixart:")
        model_config = dit.config if dit is not None else (None if saved else dit_config(config.model))
        self.plan = resolve_conditions(model_config, info, config.model) if model_config is not None else None
        if model_config is not None:
            unused = [n for n, w in (("text", model_config.text_dim), ("semantic", model_config.semantic_dim),
                                     ("content", model_config.content_channels)) if w and self.plan[n] is None]
            self.find_unused_parameters = bool(unused)
        else:  # the architecture arrives with the --init weights: let DDP tolerate an unused branch
            self.find_unused_parameters = True

    # ------------------------------------------------------------------ setup
    def setup(self, accelerator) -> None:
        cfg, optim = self.config, self.config.optim
        self.accelerator = accelerator
        dit = self._dit if self._dit is not None else build_dit(cfg.model)
        if self.plan is None:  # the architecture came from --init
            self.plan = resolve_conditions(dit.arch, self.info, cfg.model)
        if cfg.lora.enabled:
            add_lora(dit, cfg.lora)  # the base is frozen: only the adapter reaches the optimiser
        if cfg.train.gradient_checkpointing:
            dit.enable_gradient_checkpointing()
        dit.train()
        self.diffusion_config = diffusion_config(cfg.diffusion, dit.config.prediction_type)
        self.diffusion = make_objective(self.diffusion_config)
        builders = {"semantic": build_semantic_encoder, "content": build_content_encoder}
        for name in ("semantic", "content"):
            spec = self.plan[name]
            if spec not in (None, "stored") and name not in self.encoders:
                self.encoders[name] = builders[name](spec, device=accelerator.device)
        for encoder in self.encoders.values():
            encoder.to(accelerator.device)
        if cfg.train.fsdp:
            # FSDP2: each process holds 1/N of every weight (training/fsdp.py); accelerate prepares
            # only the optimizer; the sharded module does its own gradient reduce-scatter
            if accelerator.mixed_precision == "fp16":
                raise ConfigError("train.fsdp=true with train.mixed_precision=fp16: the fp16 gradient scaler is "
                                  "not tested on sharded gradients here; use train.mixed_precision=bf16 (or no)")
            dit = shard_transformer(dit.to(accelerator.device), dit.blocks)
        self.params = [p for p in dit.parameters() if p.requires_grad]   # after sharding: DTensors
        opt = torch.optim.AdamW(self.params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay,
                                eps=optim.eps)
        if cfg.train.fsdp:
            self.dit, self.opt = dit, accelerator.prepare(opt)
        else:
            self.dit, self.opt = accelerator.prepare(dit, opt)
        # Stepped by us once per update; accelerate would step a prepared scheduler once per process.
        self._schedulers = {"dit": torch.optim.lr_scheduler.LambdaLR(self.opt.optimizer,
                                                                     WarmupConstant(optim.warmup_steps))}

    def models(self) -> dict[str, nn.Module]:
        return {"dit": self.dit}

    def optimizers(self) -> dict[str, Any]:
        return {"dit": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return self._schedulers

    def ema_target(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.dit)

    def ema_names(self) -> list[str] | None:
        if not self.config.lora.enabled:
            return None
        return lora_parameter_names(self.ema_target())

    def effective(self) -> dict[str, Any]:
        dit = self.accelerator.unwrap_model(self.dit)
        group = self.config.data.bucket_group or 1
        lora = self.config.lora
        adapter = None
        if lora.enabled:
            names = set(lora_parameter_names(dit))
            adapter = {"rank": lora.rank, "alpha": lora.alpha or lora.rank, "targets": list(lora.targets),
                       "parameters": sum(p.numel() for n, p in dit.named_parameters() if n in names),
                       "adapted_layers": len(names) // 2}
        return {
            "lora": adapter,
            "dit_parameters": dit.num_parameters(),
            "dit_sharding": f"FSDP2 over {self.accelerator.num_processes} processes" if is_sharded(dit)
                            else "replicated",
            "dit_config": dit.arch.to_dict(),
            "diffusion": self.diffusion_config.to_dict(),
            "conditions": {k: v or "unused" for k, v in self.plan.items()},
            "latents": {k: self.info.get(k) for k in ("vae", "latent_mode", "text_encoder", "semantic_encoder",
                                                       "content_encoder")},
            "clips_per_step": (self.config.data.batch_size * group * self.accelerator.num_processes
                               * self.config.train.grad_accum_steps),
        }

    # ------------------------------------------------------------------ conditions
    def conditions(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The DiT's keyword conditions for a batch, on the device (recomputed ones under no_grad)."""
        device = self.accelerator.device
        out: dict[str, torch.Tensor] = {}
        if self.plan["text"]:
            out["text"] = batch["text"].to(device, non_blocking=True)               # B L D
            out["text_mask"] = batch["text_mask"].to(device, non_blocking=True)     # B L
        frame = batch["content_frame"].to(device, non_blocking=True)                # B 3 H W
        for name, key in (("semantic", "semantic"), ("content", "content_latent")):
            if self.plan[name] == "stored":
                out[name] = batch[key].to(device, non_blocking=True)
            elif self.plan[name] is not None:
                with torch.no_grad():
                    out[name] = self.encoders[name].encode(frame)                   # B N D / B C H/8 W/8
        return out

    # ------------------------------------------------------------------ one step
    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        acc, optim, diffusion = self.accelerator, self.config.optim, self.diffusion_config
        batch = ungroup(batch)
        latent = batch["latent"].to(acc.device, non_blocking=True)                  # B C t h w
        conditions = self.conditions(batch)
        lr = self._schedulers["dit"].get_last_lr()[0]
        # Noise, timesteps and drops come from the global RNG, which the loop checkpoints (exact resume).
        noisy = self.diffusion.prepare(latent)
        drop_text, drop_image = self._drops(latent.shape[0], acc.device)
        prediction = self.dit(noisy.noisy, noisy.timesteps, **conditions, drop_text=drop_text,
                              drop_image=drop_image, return_dict=False)[0]
        loss = self.diffusion.loss(prediction, noisy)
        acc.backward(loss)
        if acc.sync_gradients and optim.grad_clip is not None:
            acc.clip_grad_norm_(self.params, optim.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            self._schedulers["dit"].step()
        values = torch.stack([loss.detach().float(), drop_text.float().mean(), drop_image.float().mean()]).tolist()
        return {"loss/total": values[0], "cfg/text_dropped": values[1], "cfg/image_dropped": values[2], "lr/dit": lr}

    def _drops(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.diffusion_config
        return sample_condition_drop(batch, d.text_drop_prob, d.image_drop_prob, device=device)

    # ------------------------------------------------------------------ samples
    @torch.no_grad()
    def sample(self, batch: Any, step: int) -> Samples:
        """Validation: the denoising loss at fixed noise levels, and generated clips decoded by the VAE
        next to the decoded stored latents (the VAE's reconstruction of the real clip)."""
        acc = self.accelerator
        dit = acc.unwrap_model(self.dit)
        was_training = dit.training
        dit.eval()
        batch = ungroup(batch)
        latent = batch["latent"].to(acc.device)                                      # B C t h w
        conditions = self.conditions(batch)
        generator = torch.Generator().manual_seed(self.config.sampling.seed)
        with acc.autocast():
            metrics = {"val_loss": self._fixed_noise_loss(dit, latent, conditions, generator)}
            generated = self.generate(dit, latent.shape, conditions, generator)
        dit.train(was_training)
        vae = self._sample_vae()
        if vae is None:
            return Samples(metrics=metrics)
        frame = batch["content_frame"].to(acc.device, vae.dtype)                     # B 3 H W
        reference = vae.decode(latent.to(vae.dtype), frame).sample.float().clamp(-1, 1)
        decoded = vae.decode(generated.to(vae.dtype), frame).sample.float().clamp(-1, 1)
        return Samples(videos={"reference": reference.cpu(), "generated": decoded.cpu()}, metrics=metrics)

    def _fixed_noise_loss(self, dit, latent, conditions, generator) -> float:
        """Loss at 5 evenly spaced noise levels with seeded noise: comparable across steps and runs."""
        d, losses = self.diffusion_config, []
        for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
            level = fraction * d.num_train_timesteps
            t = torch.full((latent.shape[0],), int(level) if d.objective == "epsilon" else level, device=latent.device)
            noise = torch.randn(latent.shape, generator=generator).to(latent.device)
            noisy = self.diffusion.prepare(latent, noise=noise, timesteps=t)
            prediction = dit(noisy.noisy, noisy.timesteps, **conditions, return_dict=False)[0]
            losses.append(float(self.diffusion.loss(prediction, noisy)))
        return sum(losses) / len(losses)

    def generate(self, dit, shape, conditions, generator) -> torch.Tensor:
        """Sample latents (B, C, t, h, w) for the conditions with the configured sampler and guidance."""
        s = self.config.sampling
        scheduler = make_scheduler(self.diffusion_config, s.sampler)
        scheduler.set_timesteps(s.steps, device=self.accelerator.device)
        x = torch.randn(shape, generator=generator).to(self.accelerator.device) * init_noise_sigma(scheduler)
        text_scale = s.text_scale if "text" in conditions else 1.0
        image_scale = s.image_scale if ("semantic" in conditions or "content" in conditions) else 1.0
        objective = make_objective(self.diffusion_config)
        for t in scheduler.timesteps:
            model_input = scale_model_input(scheduler, x, t)
            prediction = guided_prediction(dit, model_input, t, text_scale=text_scale,
                                           image_scale=image_scale, **conditions)
            prediction = objective.scheduler_prediction(prediction, model_input, t)
            x = scheduler.step(prediction.float(), t, x).prev_sample
        return x

    def _sample_vae(self) -> nn.Module | None:
        if self._vae is None and not self._vae_failed:
            spec = self.config.model.vae or self.info.get("vae")
            try:
                self._vae = load_vae(spec, device=self.accelerator.device)
            except (ReducioError, OSError, ValueError) as error:
                self._vae_failed = True
                logger.warning("validation samples without videos: cannot load the VAE %r (%s); set model.vae", spec,
                               error)
        if self._vae is not None:
            self._vae.to(self.accelerator.device).eval()
        return self._vae

    def export(self, directory: Path, states: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        dit = self.accelerator.unwrap_model(self.dit)
        if self.config.lora.enabled:  # the adapter only; the base is model.init, unchanged
            save_lora(dit, directory)
            return
        if states is not None:  # sharded: an unsharded copy with the gathered weights
            whole = type(dit)(dit.arch)
            whole.load_state_dict(states["dit"], strict=True)
            dit = whole
        dit.save_pretrained(directory)


# --------------------------------------------------------------------------------------------
# Task
# --------------------------------------------------------------------------------------------


def build_dit_training(config: DiTTrainConfig):
    """(objective, train dataset, sample dataset) for `reducio train dit`."""
    data = config.data
    if not data.root:
        raise ConfigError("data.root is not set; pass --set data.root=/path/to/shards (made by `reducio extract`)")
    shards = LatentShardDataset(data.root)
    samples = LatentShardDataset(data.sample_root) if data.sample_root else shards
    if samples is not shards:
        check_compatible(shards.info, samples.info, str(data.sample_root), str(data.root))
    train = shards
    if data.bucket_group:
        train = BucketGroupedDataset(shards, data.bucket_group, seed=config.train.seed, shuffle=data.shuffle)
        samples = same_bucket_subset(samples, config.logging.num_samples)
    return DiTObjective(config, shards.info), train, samples


def same_bucket_subset(dataset, count: int):
    """The first `count` items sharing item 0's size (a sample batch must collate)."""
    keys = dataset.bucket_keys()
    picked = [i for i, key in enumerate(keys) if key == keys[0]][:count]
    return Subset(dataset, picked)
