"""Strict loading: a readable report of missing, unexpected and mis-shaped keys; dtype casts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reducio.loading.state_dict import compare_state_dict, count_parameters, load_state_dict_strict
from reducio.errors import CheckpointError


def _module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))


def test_exact_match_loads_and_casts_to_module_dtype():
    source, target = _module(), _module()
    half = {k: v.half() for k, v in source.state_dict().items()}
    load_state_dict_strict(target, half, "weights.safetensors")
    for key, value in target.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, half[key].float())


def test_dtype_argument_casts_module_and_weights():
    target = load_state_dict_strict(_module(), _module().state_dict(), "w", dtype=torch.bfloat16)
    assert {p.dtype for p in target.parameters()} == {torch.bfloat16}


def test_missing_key_is_named_with_file():
    weights = _module().state_dict()
    del weights["1.bias"]
    with pytest.raises(CheckpointError) as error:
        load_state_dict_strict(_module(), weights, "run/last.ckpt")
    message = str(error.value)
    assert "run/last.ckpt" in message and "1 missing" in message and "1.bias" in message


def test_mis_shaped_and_unexpected_keys_are_listed_before_copying():
    target = _module()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    weights = dict(_module().state_dict())
    weights["2.weight"] = torch.zeros(3, 8)
    weights["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as error:
        load_state_dict_strict(target, weights, "w.pt")
    message = str(error.value)
    assert "2.weight: [3, 8] vs [2, 8]" in message
    assert "1 unexpected" in message and "extra.weight" in message
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # untouched


def test_report_truncates_long_lists_but_counts_everything():
    module = nn.ModuleList([nn.Linear(1, 1) for _ in range(30)])  # 60 keys
    report = compare_state_dict(module, {})
    text = report.format(limit=20)
    assert "60 missing" in text and "... and 40 more" in text
    assert text.count("\n  ") == 21  # 20 names + the "more" line


def test_integer_buffers_are_not_cast_silently():
    module = nn.BatchNorm1d(3)
    weights = dict(module.state_dict())
    weights["num_batches_tracked"] = torch.tensor(1.0)
    with pytest.raises(CheckpointError, match="num_batches_tracked has dtype torch.float32"):
        load_state_dict_strict(nn.BatchNorm1d(3), weights, "bn.pt")


def test_meta_module_takes_the_tensors():
    with torch.device("meta"):
        module = _module()
    weights = _module().state_dict()
    load_state_dict_strict(module, weights, "w")
    assert not any(p.is_meta for p in module.parameters())
    assert torch.equal(module[0].weight, weights["0.weight"])
    assert count_parameters(module) == 4 * 8 + 8 + 16 + 8 * 2 + 2
