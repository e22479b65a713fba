"""Write weights as `.safetensors`: atomically, with shared tensors stored once.

safetensors refuses tensors that share memory (tied weights, views of one buffer). A tensor that
is exactly another one under a second name is stored once and recorded as an alias in the file's
metadata, so loading restores both names; a partial view of another tensor is stored as its own
copy. Files are written to a temporary name in the same folder and renamed, so a crash never
leaves a half-written model where a complete one is expected.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors.torch import save_file

from reducio.errors import CheckpointError

ALIASES_KEY = "reducio_aliases"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run `write(tmp)` on a temporary sibling of `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(tmp)
        # Some writers (safetensors) create 0600 files; give the usual umask-based permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def dedupe_shared(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors to store, {alias: stored name}); stored tensors are contiguous, on the CPU, and
    share no memory with each other."""
    groups: dict[tuple, list[str]] = {}  # tensors sharing one storage, in state-dict order
    for name, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"cannot save {name!r}: it is a {type(tensor).__name__}, not a tensor")
        if tensor.is_meta:
            raise CheckpointError(f"cannot save {name!r}: it is on the meta device (it has no data)")
        key = (tensor.device, tensor.untyped_storage().data_ptr()) if tensor.numel() else (name,)
        groups.setdefault(key, []).append(name)

    stored: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    for names in groups.values():
        views: dict[tuple, str] = {}  # exact same view -> the first name that had it
        for name in names:
            tensor = state_dict[name]
            view = (tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
            if view in views:
                aliases[name] = views[view]  # tied weight: store once
            else:
                views[view] = name
        # Different views of one buffer get their own copies; safetensors forbids overlap.
        shared = len(views) > 1
        for name in views.values():
            tensor = state_dict[name].detach().cpu()
            if shared:
                tensor = tensor.clone(memory_format=torch.contiguous_format)
            stored[name] = tensor.contiguous()
    return stored, aliases


def save_safetensors(
    state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write `state_dict` to `path` atomically; shared tensors are stored once (see module doc)."""
    tensors, aliases = dedupe_shared(state_dict)
    meta = {"format": "pt", **(metadata or {})}
    if aliases:
        meta[ALIASES_KEY] = json.dumps(aliases, sort_keys=True)
    bad = [k for k, v in meta.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise CheckpointError(f"safetensors metadata must map strings to strings; bad entries: {bad}")
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def restore_aliases(
    tensors: dict[str, torch.Tensor], metadata: Mapping[str, str], source: str
) -> dict[str, torch.Tensor]:
    """Add back the names `save_safetensors` stored as aliases."""
    if ALIASES_KEY not in metadata:
        return tensors
    try:
        aliases = json.loads(metadata[ALIASES_KEY])
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{source}: metadata {ALIASES_KEY!r} is not valid JSON: {error}") from error
    for alias, name in aliases.items():
        if name not in tensors:
            raise CheckpointError(f"{source}: alias {alias!r} points to missing tensor {name!r}")
        tensors[alias] = tensors[name]
    return tensors
