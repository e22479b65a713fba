"""safetensors writing: shared tensors, views, atomic replacement."""

from __future__ import annotations

import os
import stat

import pytest
import torch
from safetensors import safe_open

from reducio.loading.safe_load import read_safetensors
from reducio.loading.saving import atomic_write, dedupe_shared, restore_aliases, save_safetensors
from reducio.errors import CheckpointError


def test_tied_tensors_are_stored_once_and_restored(tmp_path):
    shared = torch.randn(4, 3)
    state = {"embed.weight": shared, "head.weight": shared, "head.bias": torch.zeros(4)}
    save_safetensors(state, tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as handle:
        assert set(handle.keys()) == {"embed.weight", "head.bias"}
    tensors, metadata = read_safetensors(tmp_path / "m.safetensors")
    restored = restore_aliases(tensors, metadata, "m")
    assert set(restored) == set(state)
    assert torch.equal(restored["head.weight"], shared)


def test_views_of_one_buffer_get_own_copies(tmp_path):
    buffer = torch.arange(12.0)
    state = {"first": buffer[:6], "second": buffer[6:].view(2, 3), "strided": buffer[::2]}
    stored, aliases = dedupe_shared(state)
    assert aliases == {}
    pointers = {t.untyped_storage().data_ptr() for t in stored.values()}
    assert len(pointers) == 3 and all(t.is_contiguous() for t in stored.values())
    save_safetensors(state, tmp_path / "v.safetensors")
    loaded, _ = read_safetensors(tmp_path / "v.safetensors")
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "model.safetensors"
    save_safetensors({"a": torch.ones(2)}, target)

    def failing(tmp):
        tmp.write_bytes(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, failing)
    assert torch.equal(read_safetensors(target)[0]["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left


def test_written_files_get_umask_permissions(tmp_path):
    target = save_safetensors({"a": torch.ones(2)}, tmp_path / "m.safetensors")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_meta_and_non_tensor_values_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="meta"):
        save_safetensors({"a": torch.empty(2, device="meta")}, tmp_path / "x.safetensors")
    with pytest.raises(CheckpointError, match="'step'"):
        save_safetensors({"step": 3}, tmp_path / "x.safetensors")
