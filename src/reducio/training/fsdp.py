"""Fully sharded training (`train.fsdp`): torch's FSDP2 (`fully_shard`) inside the shared loop.

Why not accelerate's FSDP plugin: accelerate 1.15 switches FSDP on only for GPU-type backends (on a
CPU/gloo job the plugin is ignored and the model is wrapped in DDP), so its path could not be tested
without a GPU. torch's own `fully_shard` works the same on gloo and NCCL, so one code path is tested
here and runs on GPUs. accelerate still runs the job (process group, device, autocast, gradient
accumulation, the optimizer wrapper); it just does not wrap the sharded model.

Checkpoints stay the unsharded format every other run writes (full weights in safetensors, the
optimizer in torch's index-keyed `state_dict` layout, full EMA weights), so a checkpoint written by
N sharded processes resumes in M processes, sharded or not, and vice versa. Gathering them is a
collective: every function here that says "collective" must be called on every process.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from reducio.errors import CheckpointError, ConfigError


def is_sharded(module: nn.Module) -> bool:
    """True for a module wrapped by `fully_shard` (its parameters are DTensors)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(module, FSDPModule)


def shard_transformer(model: nn.Module, blocks: nn.ModuleList) -> nn.Module:
    """FSDP2 units: one per transformer block, then the root (embeddings, final layer).

    Parameters are sharded along dim 0 over all processes; each block's full weights exist only
    during its forward and backward. Needs an initialised process group (torchrun / accelerate).
    """
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError("train.fsdp=true needs several processes: launch with `torchrun --nproc_per_node N` "
                          "or `accelerate launch`, or set train.fsdp=false for one process")
    for block in blocks:
        fully_shard(block)
    fully_shard(model)
    return model


def whole_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """A DTensor shard gathered to the whole tensor (collective); any other tensor as it is."""
    from torch.distributed.tensor import DTensor

    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def _is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def full_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Sharded (DTensor) values gathered to whole CPU tensors, one tensor at a time, kept on the
    main process only (the others get {}: a 1.2B model is 4.8 GB per copy). Collective."""
    main = _is_main()
    whole = {}
    for name, value in state.items():
        value = whole_tensor(value).detach()
        if main:
            whole[name] = value.cpu()
    return whole


def full_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The whole (unsharded) `state_dict` on CPU on the main process ({} elsewhere). Collective."""
    return full_tensors(module.state_dict())


def load_full_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load whole tensors into a sharded module: each process keeps its own shard (strict)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    set_model_state_dict(module, state, options=StateDictOptions(full_state_dict=True, strict=True))


def copy_full_into_sharded(targets: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> None:
    """targets[name] <- state[name] for DTensor targets (EMA weights), each process its own shard."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    for name, target in targets.items():
        value = state[name]
        if isinstance(target, DTensor):
            value = distribute_tensor(value.to(target.device, target.dtype), target.device_mesh,
                                      target.placements)
        target.copy_(value)


def _fqn_order(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> list[str]:
    """Parameter names in the order torch's optimizer `state_dict` numbers them."""
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's state gathered to whole CPU tensors on the main process ({} elsewhere), in
    torch's own index-keyed layout (the layout an unsharded run saves). Collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    by_name = get_optimizer_state_dict(module, optimizer,
                                       options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not _is_main():
        return {}   # with cpu_offload only the main process receives the gathered state
    order = _fqn_order(optimizer, {id(p): n for n, p in module.named_parameters()})
    index = {name: i for i, name in enumerate(order)}
    state = {index[name]: {k: whole_tensor(v).detach().cpu() if isinstance(v, torch.Tensor) else v
                           for k, v in entry.items()}
             for name, entry in by_name["state"].items()}
    groups = [{**group, "params": [index[name] for name in group["params"]]}
              for group in by_name["param_groups"]]
    return {"state": state, "param_groups": groups}


def load_full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer,
                              state: dict[str, Any]) -> None:
    """Load an index-keyed (unsharded) optimizer `state_dict` into the optimizer of a sharded module."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    order = _fqn_order(optimizer, {id(p): n for n, p in module.named_parameters()})
    saved = [i for group in state["param_groups"] for i in group["params"]]
    if len(saved) != len(order):
        raise CheckpointError(f"the checkpoint's optimizer holds {len(saved)} parameters, this model trains "
                          f"{len(order)}; resume with the config the run was started with")
    by_name = {"state": {order[i]: entry for i, entry in state["state"].items()},
               "param_groups": [{**group, "params": [order[i] for i in group["params"]]}
                                for group in state["param_groups"]]}
    set_optimizer_state_dict(module, optimizer, by_name, options=StateDictOptions(full_state_dict=True))
