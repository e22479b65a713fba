"""ReducioLoraLoaderMixin: the adapter `reducio train dit --set lora.rank=R` writes, on a pipeline."""

from __future__ import annotations

import pytest
import torch
from diffusers import DiffusionPipeline

from reducio.errors import CheckpointError, ModelNotFoundError
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.pipelines.lora import ReducioLoraLoaderMixin, parse_lora_argument
from reducio.training.config import LoRASection
from reducio.training.lora import add_lora, save_lora


class DiTOnlyPipeline(DiffusionPipeline, ReducioLoraLoaderMixin):
    """The smallest pipeline with a `transformer`, enough for the LoRA methods."""

    def __init__(self, transformer: ReducioDiT) -> None:
        super().__init__()
        self.register_modules(transformer=transformer)


def tiny_dit(seed: int = 0) -> ReducioDiT:
    torch.manual_seed(seed)
    dit = ReducioDiT(DiTConfig.preset("tiny").replace(hidden_size=48, depth=2, num_heads=2)).eval()
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return dit


def predict(dit: ReducioDiT) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        return dit(torch.randn(1, 16, 4, 2, 2, generator=g), 300.0,
                   text=torch.randn(1, 4, 384, generator=g), return_dict=False)[0]


def write_adapter(folder, *, zero_b: bool, rank: int = 4) -> None:
    trained = tiny_dit()
    add_lora(trained, LoRASection(rank=rank))
    if not zero_b:
        with torch.no_grad():
            for name, p in trained.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.05)
    save_lora(trained, folder)


def test_zero_b_adapter_changes_nothing_and_a_trained_one_does(tmp_path):
    pipe = DiTOnlyPipeline(tiny_dit())
    base = predict(pipe.transformer)
    write_adapter(tmp_path / "zero", zero_b=True)
    pipe.load_lora_weights(tmp_path / "zero", adapter_name="zero")
    assert torch.equal(predict(pipe.transformer), base)

    write_adapter(tmp_path / "trained", zero_b=False)
    pipe.load_lora_weights(tmp_path / "trained", adapter_name="trained")
    pipe.set_adapters(["trained"], [1.0])
    adapted = predict(pipe.transformer)
    assert not torch.allclose(adapted, base)

    pipe.set_adapters(["trained"], [0.5])  # a scale between 0 and 1 lands between the two
    half = predict(pipe.transformer)
    assert not torch.allclose(half, base) and not torch.allclose(half, adapted)

    pipe.set_adapters(["trained"], [1.0])
    pipe.disable_lora()
    assert torch.equal(predict(pipe.transformer), base)
    pipe.enable_lora()
    torch.testing.assert_close(predict(pipe.transformer), adapted)


def test_fuse_and_unfuse(tmp_path):
    pipe = DiTOnlyPipeline(tiny_dit())
    base = predict(pipe.transformer)
    write_adapter(tmp_path / "trained", zero_b=False)
    pipe.load_lora_weights(tmp_path / "trained" / "pytorch_lora_weights.safetensors")
    adapted = predict(pipe.transformer)
    pipe.fuse_lora()
    torch.testing.assert_close(predict(pipe.transformer), adapted, rtol=0, atol=1e-5)
    pipe.unfuse_lora()
    pipe.unload_lora_weights()
    torch.testing.assert_close(predict(pipe.transformer), base, rtol=0, atol=1e-5)


def test_bad_lora_sources_are_named(tmp_path):
    pipe = DiTOnlyPipeline(tiny_dit())
    with pytest.raises(ModelNotFoundError, match="no such LoRA file or folder"):
        pipe.load_lora_weights(tmp_path / "absent")
    (tmp_path / "w.bin").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="pickled files are refused"):
        pipe.load_lora_weights(tmp_path / "w.bin")
    with pytest.raises(CheckpointError, match="is not a LoRA file"):
        pipe.load_lora_weights({"blocks.0.attn.to_q.weight": torch.zeros(2, 2)})


def test_parse_lora_argument():
    assert parse_lora_argument("runs/lora/final") == ("runs/lora/final", 1.0)
    assert parse_lora_argument("runs/lora/final:0.7") == ("runs/lora/final", 0.7)
    with pytest.raises(CheckpointError, match="finite"):
        parse_lora_argument("runs/lora:nan")
