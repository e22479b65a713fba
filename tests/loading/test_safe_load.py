"""Reading checkpoints without running code: Lightning-style extras load, code payloads are refused."""

from __future__ import annotations

import argparse
import collections
import enum
import os
import pickle
import typing
import zipfile
from pathlib import Path

import pytest
import torch

from reducio.loading import restricted_pickle
from reducio.loading.safe_load import extract_state_dict, load_checkpoint_state_dict, read_checkpoint
from reducio.errors import CheckpointError, ModelNotFoundError, UnsafeCheckpointError


class Flag(enum.Enum):
    READONLY = 1


class HyperParams:
    """Stands for OmegaConf's DictConfig: a class torch's weights-only reader refuses, whose state
    names types (`typing.Any`, `dict`) and enum members the way DictConfig's metadata does."""

    def __init__(self) -> None:
        self.lr = 2e-5
        self.ddconfig = {"ch": 32}
        self.metadata = {"ref_type": typing.Any, "object_type": dict, "flags": {Flag.READONLY: True}}


class TouchOnUnpickle:
    """A custom class whose unpickling has a side effect (creates `path`)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (TouchOnUnpickle, ("unused",), {"path": self.path})

    def __setstate__(self, state: dict) -> None:
        Path(state["path"]).touch()


class OpenOnUnpickle:
    """Unpickles as a call to builtins.open(path, "w"): creates the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class SystemOnUnpickle:
    """Unpickles as os.system("touch path")."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _weights() -> collections.OrderedDict:
    gen = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(3, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(4, 3, generator=gen))
    return layer.state_dict()


def _lightning_checkpoint(state_dict) -> dict:
    return {
        "epoch": 3,
        "global_step": 1234,
        "pytorch-lightning_version": "2.0.1",
        "state_dict": state_dict,
        "hyper_parameters": {"config": HyperParams(), "args": argparse.Namespace(batch=4),
                             "root": Path("/data/run"), "tags": {"vae", "ft4"}, "raw": b"\x00\xff"},
        "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(4, 3)}}, "param_groups": []}],
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.5)}},
    }


def test_plain_state_dict_loads_weights_only(tmp_path):
    weights = _weights()
    torch.save(weights, tmp_path / "plain.pt")
    loaded = load_checkpoint_state_dict(tmp_path / "plain.pt")
    assert set(loaded) == set(weights)
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)


def test_lightning_checkpoint_with_custom_objects_loads(tmp_path):
    weights = _weights()
    path = tmp_path / "run.ckpt"
    torch.save(_lightning_checkpoint(weights), path)
    with pytest.raises(pickle.UnpicklingError):  # what the fallback exists for
        torch.load(path, weights_only=True)
    loaded = load_checkpoint_state_dict(path)
    assert set(loaded) == {"weight", "bias"}
    assert torch.equal(loaded["weight"], weights["weight"])
    everything = read_checkpoint(path)
    assert everything["global_step"] == 1234
    # Protocol 2 spells these `__builtin__.set` / `_codecs.encode`: harmless, rebuilt for real.
    assert everything["hyper_parameters"]["tags"] == {"vae", "ft4"}
    assert everything["hyper_parameters"]["raw"] == b"\x00\xff"
    hp = everything["hyper_parameters"]["config"]
    # The custom class was never imported or run: it is an inert stand-in.
    assert isinstance(hp, restricted_pickle.InertObject)
    assert not isinstance(hp, HyperParams)
    assert hp._reducio_global.endswith("HyperParams")


def test_custom_class_in_state_dict_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned-custom"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"weight": TouchOnUnpickle(str(marker)), "bias": torch.zeros(2)}}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"weight.*TouchOnUnpickle.*not run"):
        load_checkpoint_state_dict(path)
    assert not marker.exists()
    # Control: the payload is live; an unrestricted load does run it.
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("payload", [OpenOnUnpickle, SystemOnUnpickle])
def test_code_call_in_state_dict_is_refused_without_running(tmp_path, payload):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"weight": payload(str(marker))}}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"refused before anything was called"):
        load_checkpoint_state_dict(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # control: the payload works when allowed to
    assert marker.exists()


def test_code_call_among_hyper_parameters_is_refused_too(tmp_path):
    marker = tmp_path / "pwned-hparams"
    checkpoint = _lightning_checkpoint(_weights())
    checkpoint["hyper_parameters"]["hook"] = OpenOnUnpickle(str(marker))
    torch.save(checkpoint, tmp_path / "evil.ckpt")
    with pytest.raises(UnsafeCheckpointError, match="io.open"):
        load_checkpoint_state_dict(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_restricted_unpickler_cannot_patch_allowed_classes():
    # GLOBAL torch.Tensor, then BUILD with a slot state that would setattr a method on the class.
    payload = (b"\x80\x02ctorch\nTensor\n" b"N}X\x07\x00\x00\x00__len__K\x01s\x86b.")
    with pytest.raises(UnsafeCheckpointError, match="restore the state"):
        restricted_pickle.loads(payload)
    assert callable(torch.Tensor.__len__)


def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    assert zipfile.is_zipfile(path)
    with pytest.raises(UnsafeCheckpointError, match="TorchScript"):
        load_checkpoint_state_dict(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_checkpoint_state_dict(tmp_path / "nope.ckpt")
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.ckpt"):
        load_checkpoint_state_dict(broken)


def test_extract_state_dict_picks_entry_or_explains():
    weights = {"a": torch.zeros(1)}
    assert extract_state_dict({"state_dict": weights, "epoch": 1}, "x.ckpt") == weights
    assert extract_state_dict(weights, "x.pt") == weights
    assert extract_state_dict({"ema": weights, "epoch": 1}, "x.pt", key="ema") == weights
    with pytest.raises(CheckpointError, match=r"no state dict.*epoch"):
        extract_state_dict({"epoch": 1, "ema": weights}, "x.pt")
    with pytest.raises(CheckpointError, match="'step' is a int"):
        extract_state_dict({"state_dict": {"w": torch.zeros(1), "step": 3}}, "x.pt")
