"""Training the stage-1 reranker (`ImageReranker`, a `FrameTextMatcher`) with the shared loop.

Contrastive (CLIP's symmetric InfoNCE) on shapes-world content frames rendered on the fly
(`reducio.data.synthetic.rerank_pairs`), captions embedded by the pipeline's own text encoder,
frozen. Equal captions in a batch all count as positives; with near misses
(`data.hard_negatives`) positives are judged by what a frame shows (direction words aside) and
each caption must also pick its own frame among its near misses (`FrameTextMatcher.ranking_loss`).
The run's `final/` is the reranker as a pipeline component (`image_reranker/`'s layout).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reducio.data.synthetic.rerank_pairs import RerankPairDataset
from reducio.errors import ConfigError
from reducio.pipelines import ReducioTextToVideoPipeline
from reducio.pipelines.checks import text_width
from reducio.pipelines.stage1 import ImageReranker
from reducio.training.config.reranker import RerankerModelSection, RerankerTrainConfig
from reducio.training.objective import Objective, Samples

logger = logging.getLogger(__name__)


def build_reranker(section: RerankerModelSection, text_dim: int) -> ImageReranker:
    """A fresh reranker for `text_dim`-wide token states, or the one `section.init` names."""
    if not section.init:
        return ImageReranker(text_dim=text_dim, dim=section.dim, width=section.width)
    if (Path(section.init) / "config.json").is_file():
        reranker = ImageReranker.from_pretrained(section.init)
    else:  # a pipeline: a built-in name or a folder
        reranker = ReducioTextToVideoPipeline.from_pretrained(section.init).image_reranker
        if reranker is None:
            raise ConfigError(f"model.init {section.init!r} is a pipeline without a stage-1 reranker "
                              "(image_reranker); pass one that has one, a reranker folder, or model.init=null")
    if reranker.config.text_dim != text_dim:
        raise ConfigError(f"model.init {section.init!r} reads {reranker.config.text_dim}-d text tokens but the "
                          f"pipeline's text encoder gives {text_dim}-d; start from scratch (model.init=null)")
    logger.info("initialising the reranker from %s (dim %d, width %d)", section.init, reranker.config.dim,
                reranker.config.width)
    return reranker.float()


class RerankerLoss(nn.Module):
    """The training loss as a module forward, so that accelerate / DDP wrap the call that
    computes gradients (a DDP module must be called through its wrapper to synchronise them)."""

    def __init__(self, reranker: ImageReranker) -> None:
        super().__init__()
        self.reranker = reranker

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, positives: torch.Tensor,
                negatives: torch.Tensor | None = None) -> torch.Tensor:
        """images B 3 H W, tokens B L D, mask B L, positives B B bool, negatives B K 3 H W."""
        loss = self.reranker.contrastive_loss(images, tokens, mask, positives)
        if negatives is not None:
            loss = loss + self.reranker.ranking_loss(images, negatives, tokens, mask)
        return loss


def same(values: list[str]) -> torch.Tensor:
    """B B bool: which items of a batch share a value (a caption, or what a frame shows)."""
    return torch.tensor([[a == b for b in values] for a in values])


class RerankerObjective(Objective):
    """Trains an ImageReranker (see the module docstring).

    Args:
        config: the run's RerankerTrainConfig.
        pipeline: the pipeline whose text encoder embeds the captions (default: loaded from
            `config.model.pipeline` in setup).
    """

    def __init__(self, config: RerankerTrainConfig, *, pipeline: Any = None,
                 max_cached_captions: int = 20_000) -> None:
        self.config = config
        self.pipeline = pipeline
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self.max_cached_captions = max_cached_captions

    def setup(self, accelerator) -> None:
        cfg, optim = self.config, self.config.optim
        self.accelerator = accelerator
        if self.pipeline is None:
            self.pipeline = load_pipeline(cfg.model.pipeline)
        reranker = build_reranker(cfg.model, text_width(self.pipeline.text_encoder)).train()
        opt = torch.optim.AdamW(reranker.parameters(), lr=optim.lr, betas=optim.betas,
                                weight_decay=optim.weight_decay, eps=optim.eps)
        self.loss_module, self.opt = accelerator.prepare(RerankerLoss(reranker), opt)
        self.reranker = reranker
        self.params = list(reranker.parameters())

    def models(self) -> dict[str, nn.Module]:
        return {"reranker": self.loss_module}

    def optimizers(self) -> dict[str, Any]:
        return {"reranker": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {}

    def ema_target(self) -> nn.Module:
        return self.reranker

    def effective(self) -> dict[str, Any]:
        config = self.reranker.config
        return {"reranker_config": {"text_dim": config.text_dim, "dim": config.dim, "width": config.width},
                "reranker_parameters": sum(p.numel() for p in self.reranker.parameters()),
                "captions_from": f"the text encoder of {self.config.model.pipeline}"}

    # ------------------------------------------------------------------ batches
    @torch.no_grad()
    def encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Caption token states B L D and mask B L, cached per caption (the world's vocabulary is small)."""
        missing = list(dict.fromkeys(c for c in captions if c not in self._cache))
        if missing:
            tokens, mask, _, _ = self.pipeline.encode_prompt(missing, device=torch.device("cpu"))
            for b, caption in enumerate(missing):
                self._cache[caption] = (tokens[b].float(), mask[b])
            while len(self._cache) > self.max_cached_captions:
                self._cache.popitem(last=False)
        return (torch.stack([self._cache[c][0] for c in captions]),
                torch.stack([self._cache[c][1] for c in captions]))

    def _inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor | None]:
        device = self.accelerator.device
        captions = list(batch["caption"])
        tokens, mask = self.encode(captions)
        negatives = batch.get("negatives")
        # a frame cannot show a direction: with near misses, positives are what the frames show
        positives = same(list(batch["visible"]) if negatives is not None else captions)
        return {"images": batch["image"].to(device, non_blocking=True), "tokens": tokens.to(device),
                "mask": mask.to(device), "positives": positives.to(device),
                "negatives": None if negatives is None else negatives.to(device, non_blocking=True)}

    # ------------------------------------------------------------------ one step
    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        acc, optim = self.accelerator, self.config.optim
        loss = self.loss_module(**self._inputs(batch))
        acc.backward(loss)
        if acc.sync_gradients and optim.grad_clip is not None:
            acc.clip_grad_norm_(self.params, optim.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return {"loss/total": float(loss.detach()), "lr/reranker": optim.lr}

    # ------------------------------------------------------------------ samples
    @torch.no_grad()
    def sample(self, batch: Any, step: int) -> Samples:
        """The loss on the fixed sample batch, and how often a caption scores its own frame (or
        one showing the same thing) highest among the batch's frames."""
        was_training = self.reranker.training
        self.reranker.eval()
        inputs = self._inputs(batch)
        loss = float(RerankerLoss(self.reranker)(**inputs))
        frames = self.reranker.embed_frames(inputs["images"])                          # B D
        text = self.reranker.embed_text(inputs["tokens"], inputs["mask"])              # B D
        best = (text @ frames.T).argmax(1)                                             # B
        hits = inputs["positives"][torch.arange(len(best)), best].float().mean()
        self.reranker.train(was_training)
        return Samples(videos={"frame": inputs["images"].float().cpu()[:, :, None]},      # B 3 1 H W
                       metrics={"val_loss": loss, "val_top1": float(hits)})

    def export(self, directory: Path, states: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        self.reranker.save_pretrained(directory)


def load_pipeline(source: str) -> ReducioTextToVideoPipeline:
    """The pipeline whose text encoder and stage-1 image size the reranker follows."""
    pipe = ReducioTextToVideoPipeline.from_pretrained(source)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_reranker_training(config: RerankerTrainConfig):
    """(objective, train dataset, sample dataset) for `reducio train reranker`."""
    data = config.data
    pipeline = load_pipeline(config.model.pipeline)
    size = data.size or int(pipeline.config.stage1_image_size)
    common = dict(size=size, hard_negatives=data.hard_negatives, augment=data.augment, seed=config.train.seed)
    train = RerankPairDataset(data.split, length=data.length, **common)
    samples = RerankPairDataset(data.sample_split, length=max(config.logging.num_samples, 2), **common)
    return RerankerObjective(config, pipeline=pipeline), train, samples
