"""Model-level CPU offload: every model lives in CPU memory, only the stage in use sits on the GPU.

A generation runs its models one after the other (text encoder -> image encoders -> DiT loop ->
VAE decode), so the accelerator only ever needs the weights of one stage plus the activations.
`pipe.enable_model_cpu_offload("cuda")` (diffusers' name) turns this on; each stage then moves its
model(s) to the GPU as it starts and the previous stage's back to CPU memory. At 16 x 1024^2 the
T5-XXL text encoder alone is 8.9 GiB in bf16 (4.76 B parameters): offloaded, it no longer shares the card with the
DiT and the decoder. The price is one host-to-device copy of each model per call (per window for
the image encoders, DiT and VAE of long clips).
"""

from __future__ import annotations

import torch
from torch import nn

from reducio.errors import PipelineInputError


class ModelCPUOffload:
    """Keeps at most one stage's models on `device`; the rest in CPU memory."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._resident: tuple[nn.Module, ...] = ()

    @property
    def resident(self) -> tuple[nn.Module, ...]:
        """The models now on the accelerator."""
        return self._resident

    def load(self, *modules: nn.Module | None) -> None:
        """Put `modules` (None entries skipped) on the device and every other resident one on CPU."""
        wanted = tuple(m for m in modules if m is not None)
        for module in self._resident:
            if not any(module is m for m in wanted):
                module.to("cpu")
        for module in wanted:
            if not any(module is m for m in self._resident):
                module.to(self.device)
        self._resident = wanted
        self._free_cache()

    def release(self) -> None:
        """Everything back to CPU memory (after a call, like diffusers' maybe_free_model_hooks)."""
        self.load()

    def _free_cache(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def check_offload_device(device: torch.device | str) -> torch.device:
    """The execution device for offloading; a clear error when it does not exist here."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise PipelineInputError(f"enable_model_cpu_offload: {device!r} is not a device name ({error}); "
                         "pass e.g. 'cuda' or 'cuda:1'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PipelineInputError("enable_model_cpu_offload(device='cuda'): CUDA is not available on this "
                         "machine; offloading moves models between CPU memory and a GPU (on a "
                         "CPU-only machine every model already is in CPU memory: leave it off)")
    return device


__all__ = ["ModelCPUOffload", "check_offload_device"]
