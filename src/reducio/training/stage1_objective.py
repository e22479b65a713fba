"""Training the built-in stage-1 image generator (`reducio.pipelines.stage1`) with the shared loop.

Data: content frames (the middle frame, `content_frame_index`) of the synthetic world rendered on the fly with
their captions (`data.kind=shapes`), or the content frames and text embeddings stored in latent
shards (`data.kind=shards`). The loss is `ReducioStage1Generator.training_loss` (rectified flow by
default, caption dropout for guidance); noise comes from the global RNG, which the loop checkpoints.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from reducio.data.latents import LatentShardDataset
from reducio.data.synthetic.outside import WithOutsideClips
from reducio.data.synthetic.world import ShapesDataset
from reducio.diffusion import DiffusionConfig
from reducio.errors import ConfigError
from reducio.models.vae.config import content_frame_index
from reducio.pipelines.stage1 import ReducioStage1Generator, Stage1Config
from reducio.training.config.stage1 import Stage1TrainConfig, stage1_config
from reducio.training.fine_tune import fine_tune_patch_size
from reducio.training.objective import Objective, Samples
from reducio.training.schedules import WarmupConstant

logger = logging.getLogger(__name__)


def fine_tune_diffusion(config: Stage1Config, changes: dict[str, Any], init: str) -> Stage1Config:
    """The loaded generator's config with `model.diffusion` applied: how training noises (timestep
    sampling, condition dropout) may change when fine-tuning; the objective itself may not."""
    if not changes:
        return config
    current = config.diffusion.to_dict()
    if changes.get("objective", current["objective"]) != current["objective"]:
        raise ConfigError(f"model.diffusion.objective={changes['objective']!r} but {init} was trained with "
                          f"{current['objective']!r}: a fine-tune keeps the objective; drop the override "
                          "or train from scratch (model.init=null)")
    changed = {k: v for k, v in changes.items() if current.get(k) != v}
    if changed:
        logger.info("model.diffusion on top of %s: %s", init, changed)
    return config.replace(diffusion=DiffusionConfig.from_dict({**current, **changes}))


def fine_tune_dit(model, changes: dict[str, Any], init: str) -> None:
    """Apply `model.dit_overrides` to a generator loaded from `init` (in place): a smaller
    patch_size maps the weights, any other changed field is refused (training/fine_tune.py)."""
    patch_size = fine_tune_patch_size(model.dit.arch, changes, init, "model.dit_overrides")
    if patch_size is not None:
        model.resize_patches(patch_size)


# Stage1Config fields a fine-tune may change on top of `model.init`: sampling defaults, and a
# refiner added to a model that has none (zero-initialised, so training starts from the init's output).
_FINE_TUNE_FIELDS = ("sampler", "num_inference_steps", "guidance_scale", "refiner_width", "refiner_depth")


def fine_tune_overrides(model, overrides: dict[str, Any], init: str) -> None:
    """Apply `model.overrides` to a generator loaded from `init` (in place)."""
    unknown = sorted(set(overrides) - set(_FINE_TUNE_FIELDS))
    if unknown:
        raise ConfigError(f"model.overrides {unknown} cannot change a model loaded from {init} (model.init); "
                          f"a fine-tune may set {list(_FINE_TUNE_FIELDS)}; train from scratch "
                          "(model.init=null) to change the architecture")
    refiner = {k: overrides[k] for k in ("refiner_width", "refiner_depth") if k in overrides}
    sampling = {k: v for k, v in overrides.items() if k not in refiner}
    if sampling:
        model.config = model.config.replace(**sampling)
    if refiner:
        width = refiner.get("refiner_width", model.config.refiner_width)
        depth = refiner.get("refiner_depth", model.config.refiner_depth)
        if model.refiner is None and width:
            logger.info("adding a zero-initialised refiner (width %d, depth %d) to %s", width, depth, init)
            model.add_refiner(width, depth)
        elif (width, depth) != (model.config.refiner_width, model.config.refiner_depth):
            raise ConfigError(f"{init} has refiner width/depth {model.config.refiner_width}/"
                              f"{model.config.refiner_depth}; a fine-tune cannot change it to {width}/{depth}")


class ContentFrameDataset(Dataset):
    """Shapes-world content frames: {"image": (3, S, S) in [-1, 1], "caption": str, "index": int}."""

    def __init__(self, split: str, *, size: int = 64, frames: int = 16, length: int = 100_000,
                 paraphrase: bool = False, outside_vocabulary_share: float = 0.0) -> None:
        self.clips = ShapesDataset(split, size=size, frames=frames, length=length, paraphrase=paraphrase)
        if outside_vocabulary_share > 0:
            self.clips = WithOutsideClips(self.clips, outside_vocabulary_share)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, Any]:
        # Only the content frame is drawn (16x less rasterising than the whole clip, same pixels).
        item = self.clips.item(i, frames=[content_frame_index(self.clips.frames)])
        return {"image": item["video"][:, 0], "caption": item["caption"], "index": item["index"]}   # 3 H W


class TrainingLoss(nn.Module):
    """`generator.training_loss` as a module forward, so that accelerate / DDP wrap the call that
    computes gradients (a DDP module must be called through its wrapper to synchronise them)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, images, text_tokens, text_mask, **kwargs) -> torch.Tensor:
        return self.generator.training_loss(images, text_tokens, text_mask, **kwargs)


class Stage1Objective(Objective):
    """Trains a ReducioStage1Generator (text -> 64 px content image) on content frames.

    Args:
        config: the run's Stage1TrainConfig.
        model: the generator (default: built from `config.model` in setup).
        text_encoder: encodes captions of `data.kind=shapes` batches (default: the model config's).
    """

    def __init__(self, config: Stage1TrainConfig, *, model: nn.Module | None = None,
                 text_encoder: nn.Module | None = None, max_cached_captions: int = 20_000) -> None:
        self.config = config
        self._model = model
        self.text_encoder = text_encoder
        self._cache: OrderedDict[str, tuple[torch.Tensor, int]] = OrderedDict()
        self.max_cached_captions = max_cached_captions

    def setup(self, accelerator) -> None:
        cfg, optim = self.config, self.config.optim
        self.accelerator = accelerator
        if self._model is not None:
            model = self._model
        elif cfg.model.init:
            logger.info("initialising the stage-1 generator from %s", cfg.model.init)
            model = ReducioStage1Generator.from_pretrained(cfg.model.init)
            model.config = fine_tune_diffusion(model.config, cfg.model.diffusion, cfg.model.init)
            fine_tune_dit(model, cfg.model.dit_overrides, cfg.model.init)
            fine_tune_overrides(model, cfg.model.overrides, cfg.model.init)
        else:
            model = ReducioStage1Generator(stage1_config(cfg.model))
        if cfg.train.gradient_checkpointing:
            model.dit.enable_gradient_checkpointing()
        model.train()
        if self.text_encoder is not None:
            model.text_encoder = self.text_encoder
        self.params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(self.params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay,
                                eps=optim.eps)
        self.loss_module, self.opt = accelerator.prepare(TrainingLoss(model), opt)
        self.model = model
        self._schedulers = {"stage1": torch.optim.lr_scheduler.LambdaLR(self.opt.optimizer,
                                                                        WarmupConstant(optim.warmup_steps))}

    def models(self) -> dict[str, nn.Module]:
        return {"stage1": self.loss_module}

    def optimizers(self) -> dict[str, Any]:
        return {"stage1": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return self._schedulers

    def ema_target(self) -> nn.Module:
        return self.model

    def effective(self) -> dict[str, Any]:
        model = self.model
        return {"stage1_parameters": sum(p.numel() for p in model.parameters()),
                "stage1_config": model.config.to_dict(), "data": self.config.data.kind}

    # ------------------------------------------------------------------ batches
    def _inputs(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images B 3 H W, text tokens B L D, text mask B L) on the device."""
        device = self.accelerator.device
        if "image" in batch:
            images = batch["image"]
        else:
            images = batch["content_frame"]
        if "text" in batch:
            return (images.to(device, non_blocking=True), batch["text"].to(device, non_blocking=True),
                    batch["text_mask"].to(device, non_blocking=True))
        tokens, mask = self._encode(list(batch["caption"]))
        return images.to(device, non_blocking=True), tokens.to(device), mask.to(device)

    @torch.no_grad()
    def _encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Caption token states, cached per caption (the shapes world reuses a small vocabulary)."""
        model = self.model
        missing = list(dict.fromkeys(c for c in captions if c not in self._cache))
        if missing:
            text = model.text_encoder.encode(missing)
            for b, caption in enumerate(missing):
                self._cache[caption] = (text.tokens[b].float().cpu(), int(text.mask[b].sum()))
            while len(self._cache) > self.max_cached_captions:
                self._cache.popitem(last=False)
        tokens = torch.stack([self._cache[c][0] for c in captions])              # B L D
        lengths = torch.tensor([self._cache[c][1] for c in captions])
        mask = torch.arange(tokens.shape[1]) < lengths[:, None]                 # B L
        return tokens, mask

    # ------------------------------------------------------------------ one step
    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        acc, optim = self.accelerator, self.config.optim
        images, tokens, mask = self._inputs(batch)
        lr = self._schedulers["stage1"].get_last_lr()[0]
        loss = self.loss_module(images, tokens, mask)  # autocast (bf16) comes with accelerate's prepare
        acc.backward(loss)
        if acc.sync_gradients and optim.grad_clip is not None:
            acc.clip_grad_norm_(self.params, optim.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            self._schedulers["stage1"].step()
        return {"loss/total": float(loss.detach()), "lr/stage1": lr}

    # ------------------------------------------------------------------ samples
    @torch.no_grad()
    def sample(self, batch: Any, step: int) -> Samples:
        acc, s = self.accelerator, self.config.sampling
        model = self.model
        was_training = model.training
        model.eval()
        images, tokens, mask = self._inputs(batch)
        generator = torch.Generator().manual_seed(s.seed)
        with acc.autocast():
            val = float(model.training_loss(images, tokens, mask, generator=generator,
                                            drop_text=torch.zeros(images.shape[0], dtype=torch.bool,
                                                                  device=images.device)))
            noise = torch.randn((images.shape[0], 3, 1, *images.shape[-2:]), generator=generator)
            generated = model(prompt_embeds=tokens, prompt_attention_mask=mask, latents=noise,
                              num_inference_steps=s.steps, guidance_scale=s.guidance_scale,
                              height=images.shape[-2], width=images.shape[-1])
        model.train(was_training)
        return Samples(videos={"reference": images.float().cpu()[:, :, None],
                               "generated": generated.float().cpu()[:, :, None]},
                       metrics={"val_loss": val})

    def export(self, directory: Path) -> None:
        self.model.save_pretrained(directory)


def build_stage1_training(config: Stage1TrainConfig):
    """(objective, train dataset, sample dataset) for `reducio train stage1`."""
    data = config.data
    if data.kind == "shards":
        if not data.root:
            raise ConfigError("data.kind=shards needs data.root (a `reducio extract` folder); "
                              "or use --set data.kind=shapes")
        train = LatentShardDataset(data.root)
        if not config.model.init:
            want = stage1_config(config.model).dit.text_dim
            if train.info.get("text_dim") != want:
                raise ConfigError(f"the shards' text encoder {train.info.get('text_encoder')!r} gives "
                                  f"{train.info.get('text_dim')}-d tokens, the stage-1 DiT takes {want}-d")
        return Stage1Objective(config), train, train
    common = dict(size=data.size, frames=data.frames, paraphrase=data.paraphrase)
    train = ContentFrameDataset(data.split, length=data.length,
                                outside_vocabulary_share=data.outside_vocabulary_share, **common)
    samples = ContentFrameDataset(data.sample_split, length=max(config.logging.num_samples, 1), **common)
    return Stage1Objective(config), train, samples
