"""Atomic full-state training checkpoints, keep-last-N, and resume.

Layout of one checkpoint (`run_dir/checkpoints/step-00001234/`):

    models/<name>.safetensors   weights of each trained model (unwrapped)
    ema.safetensors             EMA weights (when EMA is on)
    training.pt                 optimisers, LR schedulers, grad scaler, objective state
    rng/rank<k>.pt              python / numpy / torch / per-device RNG states of process k
    config.json                 the resolved config of the run
    state.json                  step, data position, elapsed time; written last

A checkpoint is written into `.tmp-step-...` beside its final place, every file fsynced, then
renamed in one `os.rename`: a process killed mid-save leaves the previous checkpoints untouched
and only a temp folder, which the next start deletes. Everything loads with `weights_only=True`
(RNG states are stored as tensors and lists), so reading a checkpoint never runs code.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from reducio.errors import CheckpointError

FORMAT_VERSION = 1
STEP_PATTERN = re.compile(r"^step-(\d+)$")
STATE_FILE = "state.json"


# --------------------------------------------------------------------------------------------
# Durable file writes
# --------------------------------------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems (and Windows) cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a process killed mid-write leaves the old file (or none), never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    _fsync_file(tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_torch(path: Path, obj: Any) -> None:
    torch.save(obj, path)
    _fsync_file(path)


def write_safetensors(path: Path, state: dict[str, torch.Tensor]) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(path))
    _fsync_file(path)


def read_torch(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise _damaged(path, error) from None


def read_json(path: Path) -> Any:
    """A checkpoint's JSON file; a missing or damaged one is a CheckpointError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise _damaged(path, error) from None


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as error:  # SafetensorError, OSError: a truncated or foreign file
        raise _damaged(path, error) from None


def _damaged(path: Path, error: BaseException) -> CheckpointError:
    """One line: the file, the first line of the reader's complaint, the fix."""
    why = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
    if why.startswith("Weights only load failed"):  # torch's advice to unpickle with code is not the fix
        why = "not a PyTorch file that loads without running code (truncated or foreign)"
    step = Path(path).parent if Path(path).parent.name in ("models", "rng") else Path(path)
    while step.parent != step and not STEP_PATTERN.match(step.name):
        step = step.parent
    return CheckpointError(f"cannot read {path} ({type(error).__name__}: {why}): the checkpoint {step.name} is "
                           "damaged; resume from an older one (--resume RUN/checkpoints/step-XXXXXXXX) or "
                           "delete it to resume from the previous one")


# --------------------------------------------------------------------------------------------
# RNG states as tensors / lists (weights_only-loadable)
# --------------------------------------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(mt_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    np.random.set_state((nps["name"], nps["keys"].numpy().astype(np.uint32), nps["pos"], nps["has_gauss"], nps["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


# --------------------------------------------------------------------------------------------
# The manager
# --------------------------------------------------------------------------------------------


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def checkpoint_step(path: Path) -> int:
    state = read_json(Path(path) / STATE_FILE)
    try:
        return int(state["step"])
    except (KeyError, TypeError, ValueError) as error:
        raise _damaged(Path(path) / STATE_FILE, error) from None


class CheckpointManager:
    """Saves into `run_dir/checkpoints`, keeps the newest `keep_last`, finds the latest complete one.

    `accelerator` (optional) supplies process rank and barriers; without it the process is alone.
    """

    def __init__(self, run_dir: str | Path, *, keep_last: int = 3, accelerator=None) -> None:
        self.root = Path(run_dir) / "checkpoints"
        self.keep_last = keep_last
        self.accelerator = accelerator

    # -- process helpers
    @property
    def is_main(self) -> bool:
        return self.accelerator is None or self.accelerator.is_main_process

    def _barrier(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    # -- discovery
    def clean_stale(self) -> list[Path]:
        """Delete temp / trash folders left by a process killed while saving. Main process only."""
        removed = []
        if self.is_main and self.root.is_dir():
            for path in self.root.iterdir():
                if path.name.startswith((".tmp-", ".trash-")):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
        self._barrier()
        return removed

    def complete(self) -> list[Path]:
        """Complete checkpoints, oldest first (temp folders and folders without state.json are skipped)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.iterdir():
            match = STEP_PATTERN.match(path.name)
            if match and (path / STATE_FILE).is_file():
                found.append((int(match.group(1)), path))
        return [path for _, path in sorted(found)]

    def latest(self) -> Path | None:
        found = self.complete()
        return found[-1] if found else None

    # -- saving
    def save(self, step: int, write: Callable[[Path, bool], None]) -> Path:
        """Write a checkpoint for `step` atomically.

        `write(tmp_dir, is_main)` is called on every process: each writes its own RNG file, the
        main process writes the rest (state.json is added here, last).
        """
        final = self.root / step_dir_name(step)
        tmp = self.root / f".tmp-{step_dir_name(step)}"
        if self.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            if tmp.exists():
                shutil.rmtree(tmp)
            (tmp / "models").mkdir(parents=True)
            (tmp / "rng").mkdir()
        self._barrier()
        write(tmp, self.is_main)
        self._barrier()
        if self.is_main:
            for sub in (tmp / "models", tmp / "rng", tmp):
                _fsync_dir(sub)
            if final.exists():
                # Re-saving a step (e.g. a resumed run that ends where it started): park the old one first.
                trash = self.root / f".trash-{final.name}"
                shutil.rmtree(trash, ignore_errors=True)
                os.rename(final, trash)
                os.rename(tmp, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(tmp, final)
            _fsync_dir(self.root)
            self._prune(keep=final)
        self._barrier()
        return final

    def _prune(self, keep: Path) -> None:
        complete = [p for p in self.complete() if p != keep]
        for old in complete[: max(0, len(complete) - (self.keep_last - 1))]:
            trash = self.root / f".trash-{old.name}"
            os.rename(old, trash)  # a crash during rmtree leaves only a trash folder
            shutil.rmtree(trash, ignore_errors=True)


def resolve_checkpoint(run_dir: str | Path, resume: str | Path | None) -> Path:
    """`--resume` (latest in run_dir) or `--resume PATH` -> a complete checkpoint folder."""
    if resume in (None, "", "latest"):
        latest = CheckpointManager(run_dir).latest()
        if latest is None:
            raise CheckpointError(
                f"no complete checkpoint under {Path(run_dir) / 'checkpoints'}; "
                "drop --resume to start a new run, or pass --resume PATH"
            )
        return latest
    path = Path(resume)
    if path.is_dir() and (path / "checkpoints").is_dir() and not (path / STATE_FILE).exists():
        return resolve_checkpoint(path, None)  # a run dir was given
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(
            f"{str(path)!r} is not a complete checkpoint (no {STATE_FILE}); pass a "
            "run_dir/checkpoints/step-XXXXXXXX folder or the run dir itself"
        )
    return path


def read_checkpoint(path: str | Path, *, rank: int = 0) -> dict[str, Any]:
    """Load every part of a checkpoint (tensors on CPU). Keys: state, config, models, ema, training, rng."""
    path = Path(path)
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise CheckpointError(f"{str(path)!r} is not a complete checkpoint (no {STATE_FILE})")
    state = read_json(state_file)
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format_version {state.get('format_version') if isinstance(state, dict) else None!r}, this reducio reads "
            f"{FORMAT_VERSION}; use the reducio version that wrote it"
        )
    models = {p.stem: read_safetensors(p) for p in sorted((path / "models").glob("*.safetensors"))}
    ema_file = path / "ema.safetensors"
    rng_file = path / "rng" / f"rank{rank}.pt"
    return {
        "path": path,
        "state": state,
        "config": read_json(path / "config.json"),
        "models": models,
        "ema": read_safetensors(ema_file) if ema_file.is_file() else None,
        "training": read_torch(path / "training.pt"),
        "rng": read_torch(rng_file) if rng_file.is_file() else None,
    }
