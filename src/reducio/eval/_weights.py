"""Safe reading of the metric networks' weights (LPIPS, I3D) from user-given local files.

Nothing is downloaded. Files are read by `reducio.loading.safe_load` (safetensors, or
`torch.load(weights_only=True)` with a restricted-unpickler fallback that never runs code);
TorchScript archives are refused first with a message saying what to provide instead, because
loading one runs the code stored inside it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from reducio.loading.safe_load import load_checkpoint_state_dict
from reducio.errors import CheckpointError, ModelNotFoundError, UnsafeCheckpointError


def is_torchscript_archive(path: Path) -> bool:
    """A TorchScript file is a zip holding `constants.pkl` and a `code/` folder of Python source."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/constants.pkl") or n == "constants.pkl" or "/code/" in n for n in names)


def load_weights_file(path: str | Path, what: str, where_from: str) -> dict[str, torch.Tensor]:
    """Read a state dict of tensors from `path` without executing code.

    Args:
        path: a `.safetensors` file or a `torch.save`d state dict (`.pt`, `.pth`, `.bin`, `.ckpt`),
            possibly nested under "state_dict" / "model" (see convert.safe_load).
        what: the network, for error messages (e.g. "LPIPS vgg lin layers").
        where_from: where a user gets the file, quoted in the error when it is missing.
    Returns:
        flat `{name: tensor}` with a leading `module.` stripped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"{what}: weights file {str(path)!r} does not exist (nothing is downloaded); "
            f"provide a local copy of {where_from}"
        )
    if path.suffix != ".safetensors" and is_torchscript_archive(path):
        raise UnsafeCheckpointError(
            f"{what}: {str(path)!r} is a TorchScript archive; loading it would run the code "
            "stored inside, so it was refused. Provide a plain state dict instead "
            f"({where_from}), or convert it once in a trusted environment with "
            "`torch.save(torch.jit.load(path).state_dict(), 'weights.pt')`"
        )
    # torch.load(weights_only=True), then reducio's restricted unpickler for Lightning-style
    # checkpoints (the official Reducio .ckpt holds the LPIPS weights of its loss).
    state = load_checkpoint_state_dict(path)
    return {key.removeprefix("module."): value for key, value in state.items()}


def check_and_load(
    module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, hint: str
) -> None:
    """Copy `state` into `module`, raising CheckpointError listing missing / mis-shaped keys."""
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state)
    mis_shaped = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    )
    if missing or mis_shaped:
        lines = [f"{what}: the weights do not match the network."]
        if missing:
            shown = ", ".join(missing[:8]) + (f" ... ({len(missing)} in all)" if len(missing) > 8 else "")
            lines.append(f"missing: {shown}")
        if mis_shaped:
            lines.append("mis-shaped: " + "; ".join(mis_shaped[:8]))
        lines.append(hint)
        raise CheckpointError(" ".join(lines))
    module.load_state_dict({k: state[k].to(own[k].dtype) for k in own}, strict=True)
