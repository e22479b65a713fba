"""The sections of a stage-1 reranker run (`reducio train reranker`): a `FrameTextMatcher`
(`reducio.pipelines.stage1.ImageReranker`) trained contrastively on shapes-world content frames
and their captions, so that stage 1 can sample N frames per prompt and keep the best-scored one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reducio.configs import Config
from reducio.training.config.run import EMASection, LoggingSection, RunSection, check


@dataclass(frozen=True, kw_only=True)
class RerankerModelSection(Config):
    # The text-to-video pipeline the reranker serves (a built-in name or a folder): its text
    # encoder embeds the captions (frozen) and its stage-1 image size is the frame size.
    pipeline: str = "tiny"
    dim: int = 384  # the shared embedding width
    width: int = 32  # the frame tower's first width (then x2, x4, x8)
    # Start from a trained reranker: a pipeline (its image_reranker) or a reranker folder (a run's
    # final/); its dim and width replace the ones above.
    init: str | None = None

    def __post_init__(self) -> None:
        check(self.dim >= 1, f"model.dim must be >= 1, got {self.dim}")
        check(self.width >= 8 and self.width % 8 == 0,
              f"model.width must be a multiple of 8 (GroupNorm(8) in the frame tower), got {self.width}")


@dataclass(frozen=True, kw_only=True)
class RerankerDataSection(Config):
    kind: Literal["shapes"] = "shapes"  # frames rendered on the fly (reducio.data.synthetic.rerank_pairs)
    split: str = "train"
    sample_split: str = "validation"  # the fixed batch scored at every sample step
    length: int = 1_000_000  # clips per epoch
    size: int | None = None  # frame side; None: the pipeline's stage-1 image size
    # Near-miss frames per caption (the same scene with one visible thing changed), each caption
    # choosing its own frame among them; 0: in-batch contrast only.
    hard_negatives: int = 0
    augment: bool = False  # blur, noise and patch colour offsets, like a small generator's frames
    batch_size: int = 256
    num_workers: int = 0
    shuffle: bool = True
    fps: int = 16  # of the sample files (single frames)

    def __post_init__(self) -> None:
        check(self.batch_size >= 2, f"data.batch_size must be >= 2 (a contrastive batch), got {self.batch_size}")
        check(self.num_workers >= 0, f"data.num_workers must be >= 0, got {self.num_workers}")
        check(self.hard_negatives >= 0, f"data.hard_negatives must be >= 0, got {self.hard_negatives}")
        check(self.size is None or (self.size >= 16 and self.size % 8 == 0),
              f"data.size must be a multiple of 8 (>= 16) or null (the pipeline's), got {self.size}")


@dataclass(frozen=True, kw_only=True)
class RerankerOptimSection(Config):
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    eps: float = 1e-8
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        check(self.lr > 0, f"optim.lr must be > 0, got {self.lr}")


@dataclass(frozen=True, kw_only=True)
class RerankerTrainConfig(Config):
    """A whole reranker run; `effective` is written by the trainer."""

    task: Literal["reranker"] = "reranker"
    model: RerankerModelSection = field(default_factory=RerankerModelSection)
    data: RerankerDataSection = field(default_factory=RerankerDataSection)
    optim: RerankerOptimSection = field(default_factory=RerankerOptimSection)
    train: RunSection = field(default_factory=lambda: RunSection(mixed_precision="no", gradient_checkpointing=False))
    ema: EMASection = field(default_factory=EMASection)
    logging: LoggingSection = field(default_factory=lambda: LoggingSection(num_samples=16))
    effective: dict[str, Any] = field(default_factory=dict)
