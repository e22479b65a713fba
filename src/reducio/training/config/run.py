"""The sections every training task shares, read by the loop: how the run goes (`RunSection`),
the weights' moving average (`EMASection`), LoRA adapters (`LoRASection`) and logging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reducio.configs import Config
from reducio.errors import ConfigError


def check(ok: bool, message: str) -> None:
    """ConfigError(message) unless `ok`: the sections' value checks."""
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True, kw_only=True)
class RunSection(Config):
    """How long and how the loop runs. One step = one optimiser update of every optimiser."""

    max_steps: int = 1_000_000
    # Wall-clock budget of this invocation (minutes, resumed runs count afresh): when it is spent the
    # loop saves a checkpoint, exports final/ and stops early. For time-limited jobs (SLURM, leases).
    max_minutes: float | None = None
    grad_accum_steps: int = 1
    mixed_precision: Literal["no", "fp16", "bf16"] = "fp16"  # release: Lightning precision "16"
    gradient_checkpointing: bool = True  # release: use_checkpoint in res/attn blocks
    seed: int = 0
    cpu: bool = False  # force CPU even when a GPU is visible
    log_every: int = 10
    sample_every: int = 1000  # release: image_logger batch_frequency 1000
    save_every: int = 500  # release: every_n_train_steps 500
    # Also save once this many minutes (wall clock) have passed since the last checkpoint, however
    # fast the steps go: a bound on the work a kill can lose on a shared or leased machine.
    save_every_minutes: float | None = None
    keep_last: int = 3
    # Shard the trained transformer over the processes with torch's FSDP2 (one unit per block +
    # the root) instead of replicating it with DDP: `reducio train dit` only, launched on several
    # processes. Checkpoints stay unsharded (resume with any process count, sharded or not).
    fsdp: bool = False

    def __post_init__(self) -> None:
        check(self.max_steps >= 1, f"train.max_steps must be >= 1, got {self.max_steps}")
        check(self.max_minutes is None or self.max_minutes >= 0,
               f"train.max_minutes must be >= 0 or null, got {self.max_minutes}")
        check(self.grad_accum_steps >= 1, f"train.grad_accum_steps must be >= 1, got {self.grad_accum_steps}")
        check(self.log_every >= 1, f"train.log_every must be >= 1, got {self.log_every}")
        check(self.sample_every >= 0, f"train.sample_every must be >= 0 (0 = never), got {self.sample_every}")
        check(self.save_every >= 0, f"train.save_every must be >= 0 (0 = only at the end), got {self.save_every}")
        check(self.save_every_minutes is None or self.save_every_minutes > 0,
              f"train.save_every_minutes must be > 0 or null, got {self.save_every_minutes}")
        check(self.keep_last >= 1, f"train.keep_last must be >= 1, got {self.keep_last}")


@dataclass(frozen=True, kw_only=True)
class EMASection(Config):
    """Exponential moving average of the trained model's weights (not in the release)."""

    enabled: bool = False
    decay: float = 0.999
    start_step: int = 0  # before this step the EMA copies the weights
    update_every: int = 1

    def __post_init__(self) -> None:
        check(0.0 <= self.decay < 1.0, f"ema.decay must be in [0, 1), got {self.decay}")
        check(self.update_every >= 1, f"ema.update_every must be >= 1, got {self.update_every}")


# The linears of a DiT block: self-, temporal- and cross-attention projections and the MLP
# (reducio.models.dit.attention / block). peft matches a name against the end of a module path.
LORA_DEFAULT_TARGETS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out", "fc1", "fc2")


@dataclass(frozen=True, kw_only=True)
class LoRASection(Config):
    """A LoRA adapter trained on a frozen model (peft); rank 0 trains every weight instead."""

    rank: int = 0
    alpha: float | None = None  # None: alpha = rank (update scale 1)
    targets: tuple[str, ...] = LORA_DEFAULT_TARGETS  # module names (path suffixes) that get an adapter
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check(self.rank >= 0, f"lora.rank must be >= 0 (0 = full fine-tune), got {self.rank}")
        check(self.alpha is None or self.alpha > 0, f"lora.alpha must be > 0 or null (= rank), got {self.alpha}")
        check(len(self.targets) > 0, "lora.targets is empty; name the modules to adapt, e.g. [to_q, to_v]")
        check(0.0 <= self.dropout < 1.0, f"lora.dropout must be in [0, 1), got {self.dropout}")

    @property
    def enabled(self) -> bool:
        return self.rank > 0


@dataclass(frozen=True, kw_only=True)
class LoggingSection(Config):
    progress_bar: bool = True
    tensorboard: bool = True  # used only when the tensorboard package is installed
    num_samples: int = 2  # clips in each reconstruction sample
