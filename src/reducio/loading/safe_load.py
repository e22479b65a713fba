"""Read the tensors of a checkpoint file without ever executing code from it.

`.safetensors` files are read with safetensors (they cannot hold code). Pickle-based files
(`.ckpt`, `.pt`, `.pth`, `.bin`) are read in two tries:

1. `torch.load(weights_only=True, mmap=True)`: torch's own restricted reader; fast, and the
   tensor data stays on disk (memory-mapped) until used.
2. If (1) refuses the file because of entries that are not tensors (a Lightning checkpoint's
   OmegaConf hyper-parameters, callback states...), `torch.load` with the restricted pickle module
   of `reducio.loading.restricted_pickle`: unknown classes become inert placeholders, globals that
   run code stop the read. The weights must then be plain tensors; a state dict value that would
   need code to build is refused with `UnsafeCheckpointError`.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from reducio.loading import restricted_pickle
from reducio.errors import CheckpointError, ModelNotFoundError, UnsafeCheckpointError

logger = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
SAFETENSORS_SUFFIX = ".safetensors"
# Where training frameworks put the weights inside a checkpoint dict, tried in this order.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module")


def read_safetensors(
    path: str | os.PathLike, device: str = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and the string metadata of a `.safetensors` file."""
    path = Path(path)
    _check_exists(path)
    try:
        with safe_open(str(path), framework="pt", device=device) as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as error:  # safetensors raises its own SafetensorError / OSError types
        raise CheckpointError(
            f"cannot read {path} as safetensors: {error}. The file is truncated or not a "
            "safetensors file; download or convert it again."
        ) from error
    return tensors, metadata


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """The whole object stored in a pickle-based checkpoint, read without running code.

    Non-tensor entries a weights-only read cannot express come back as inert placeholder objects
    (`restricted_pickle.InertObject`); nothing of them is usable beyond their repr.
    """
    path = Path(path)
    _check_exists(path)
    if _is_zip(path) and _is_torchscript(path):
        # torch.load hands TorchScript archives to torch.jit.load, which loads compiled code.
        raise UnsafeCheckpointError(
            f"{path} is a TorchScript archive (it holds code, not a state dict); reducio does not "
            "load TorchScript. Export a state dict with torch.save(model.state_dict(), ...)."
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=_is_zip(path))
    except pickle.UnpicklingError as error:
        # torch's message explains which global blocked it; ours below is about the fallback.
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        logger.debug("weights-only load of %s refused (%s); using the restricted reader", path, reason)
    except Exception as error:  # torch's readers raise many types on a damaged file
        raise CheckpointError(
            f"cannot read {path} as a PyTorch checkpoint: {error}. The file is truncated or not a "
            "checkpoint; download it again."
        ) from error
    return _restricted_load(path, map_location)


def _restricted_load(path: Path, map_location: str | torch.device) -> Any:
    try:
        return torch.load(
            path,
            map_location=map_location,
            weights_only=False,
            pickle_module=restricted_pickle,
            mmap=_is_zip(path),
        )
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(f"refused to load {path}: {error}") from None
    except RuntimeError as error:
        if "explicit pickle_module" in str(error):
            raise CheckpointError(
                f"{path} holds non-tensor entries that need reducio's restricted reader, but "
                "TORCH_FORCE_WEIGHTS_ONLY_LOAD is set, which forbids it; unset that variable."
            ) from error
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {error}") from error
    except Exception as error:
        raise CheckpointError(
            f"cannot read {path}: {type(error).__name__}: {error}. The file is corrupt or in a "
            "format reducio does not read without running code."
        ) from error


def extract_state_dict(obj: Any, source: str, key: str | None = None) -> dict[str, torch.Tensor]:
    """The `{name: tensor}` dict inside a loaded checkpoint object.

    Args:
        obj: what `read_checkpoint` returned.
        source: the file name, for messages.
        key: the entry holding the weights; default: the first of `STATE_DICT_KEYS` present, or
            `obj` itself when it is already a mapping of tensors.
    Raises:
        UnsafeCheckpointError: a weight is an object whose construction needs code.
        CheckpointError: no state dict found, or it holds non-tensor values.
    """
    if not isinstance(obj, Mapping):
        found = restricted_pickle.contains_inert(obj)
        kind = f"an object of {found}" if found else type(obj).__name__
        raise CheckpointError(
            f"{source} holds {kind}, not a dict of tensors; save model.state_dict() instead of the model"
        )
    if key is not None:
        if key not in obj:
            raise CheckpointError(f"{source} has no entry {key!r}; its entries are {_key_list(obj)}")
        state = obj[key]
    else:
        state = None
        for candidate in STATE_DICT_KEYS:
            if candidate not in obj:
                continue
            if isinstance(obj[candidate], Mapping):
                state = obj[candidate]
                break
            inert = restricted_pickle.contains_inert(obj[candidate])
            if inert:
                raise UnsafeCheckpointError(
                    f"{source}: entry {candidate!r} is an object built by `{inert}`, not a dict of "
                    "tensors; making it would mean running code from the file (it was not run)"
                )
        if state is None:
            if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
                state = obj
            else:
                raise CheckpointError(
                    f"{source} holds no state dict: expected one of {list(STATE_DICT_KEYS)} or a bare "
                    f"dict of tensors, found entries {_key_list(obj)}; pass key= to pick one"
                )
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{source}: entry {key!r} is a {type(state).__name__}, not a state dict")
    return _only_tensors(state, source)


def _only_tensors(state: Mapping, source: str) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if isinstance(value, torch.Tensor):
            # Parameters come back as nn.Parameter; weights are data, not module state.
            tensors[str(name)] = value.detach() if isinstance(value, torch.nn.Parameter) else value
            continue
        inert = restricted_pickle.contains_inert(value)
        if inert:
            raise UnsafeCheckpointError(
                f"{source}: weight {name!r} is not a tensor but an object built by `{inert}`; "
                "making it would mean running code from the file, which reducio never does "
                "(it was not run). Use a checkpoint whose state dict holds plain tensors."
            )
        raise CheckpointError(
            f"{source}: weight {name!r} is a {type(value).__name__}, not a tensor; the state dict "
            "must map names to tensors"
        )
    return tensors


def load_checkpoint_state_dict(
    path: str | os.PathLike, key: str | None = None, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """`{name: tensor}` from a `.safetensors`, `.ckpt`, `.pt`, `.pth` or `.bin` file; never runs code.

    Pickle-based files are memory-mapped where their format allows, so a multi-GB checkpoint
    costs little memory until its tensors are used or cast.
    """
    path = Path(path)
    if path.suffix == SAFETENSORS_SUFFIX:
        return read_safetensors(path, device=str(map_location))[0]
    obj = read_checkpoint(path, map_location=map_location)
    return extract_state_dict(obj, source=str(path), key=key)


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/")[-1] == "constants.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False  # torch.load then reports the damaged file


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint file {path} does not exist")


def _key_list(obj: Mapping, limit: int = 12) -> str:
    keys = [str(k) for k in obj.keys()]
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more if keys else "(none)"
