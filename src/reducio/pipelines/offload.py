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
    """Keeps at most one stage's models on `device`; the rest in CPU memory.

    keep_cpu_copy=False (default): a model leaving the device is copied back (`module.to("cpu")`),
    diffusers' behaviour. keep_cpu_copy=True: each model's CPU tensors are kept (pinned when the
    device is CUDA, so the host-to-device copy can run asynchronously at full bandwidth) and a
    model leaving the device only drops its device copy: no device-to-host copy at all. The
    weights are then treated as read-only while offloaded (inference): a change made to them on
    the device is lost when the model leaves it.
    """

    def __init__(self, device: torch.device | str, *, keep_cpu_copy: bool = False) -> None:
        self.device = torch.device(device)
        self.keep_cpu_copy = keep_cpu_copy
        self._resident: tuple[nn.Module, ...] = ()
        self._cpu_tensors: dict[int, list[tuple[nn.Module, str, str, torch.Tensor]]] = {}

    @property
    def resident(self) -> tuple[nn.Module, ...]:
        """The models now on the accelerator."""
        return self._resident

    def load(self, *modules: nn.Module | None) -> None:
        """Put `modules` (None entries skipped) on the device and every other resident one on CPU."""
        wanted = tuple(m for m in modules if m is not None)
        for module in self._resident:
            if not any(module is m for m in wanted):
                self._to_cpu(module)
        for module in wanted:
            if not any(module is m for m in self._resident):
                self._to_device(module)
        self._resident = wanted
        self._free_cache()

    def release(self) -> None:
        """Everything back to CPU memory (after a call, like diffusers' maybe_free_model_hooks)."""
        self.load()

    def _to_device(self, module: nn.Module) -> None:
        if not self.keep_cpu_copy:
            module.to(self.device)
            return
        for owner, kind, name, cpu in self._cpu_copy(module):
            _set_tensor(owner, kind, name, cpu.to(self.device, non_blocking=True))

    def _to_cpu(self, module: nn.Module) -> None:
        if not self.keep_cpu_copy:
            module.to("cpu")
            return
        for owner, kind, name, cpu in self._cpu_copy(module):   # drop the device copy: no D2H copy
            _set_tensor(owner, kind, name, cpu)

    def _cpu_copy(self, module: nn.Module) -> list[tuple[nn.Module, str, str, torch.Tensor]]:
        """(owner, "parameter"|"buffer", name, CPU tensor) of every tensor of `module`, made once:
        the module's own CPU tensors, pinned when the device is CUDA."""
        key = id(module)
        if key not in self._cpu_tensors:
            pin = self.device.type == "cuda"
            entries = []
            for owner in module.modules():
                for kind, tensors in (("parameter", owner._parameters), ("buffer", owner._buffers)):
                    for name, tensor in tensors.items():
                        if tensor is None:
                            continue
                        cpu = tensor.data.to("cpu")
                        if pin:
                            cpu = cpu.pin_memory()
                        entries.append((owner, kind, name, cpu))
            self._cpu_tensors[key] = entries
        return self._cpu_tensors[key]

    def _free_cache(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _set_tensor(owner: nn.Module, kind: str, name: str, tensor: torch.Tensor) -> None:
    """Point a parameter (kept as the same Parameter where the tensor types allow, like
    nn.Module.to) or a buffer at `tensor`."""
    if kind == "buffer":
        owner._buffers[name] = tensor
        return
    param = owner._parameters[name]
    if torch._has_compatible_shallow_copy_type(param, tensor):
        param.data = tensor
    else:   # e.g. CPU <-> meta
        owner._parameters[name] = nn.Parameter(tensor, requires_grad=param.requires_grad)


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
