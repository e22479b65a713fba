"""Model CPU offload: each stage's models on the device only while that stage runs; same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reducio.errors import PipelineInputError
from reducio.pipelines.offload import ModelCPUOffload, check_offload_device

PROMPT = "a red circle moving right on a black background"


class _Recorder(nn.Module):
    def __init__(self, log: list, name: str) -> None:
        super().__init__()
        self.log, self.name = log, name
        self.weight = nn.Parameter(torch.zeros(1))

    def to(self, device):  # records the move instead of making it (no GPU needed)
        self.log.append((self.name, torch.device(device).type))
        return self


def test_offload_keeps_one_stage_resident_and_moves_shared_models_once():
    log: list = []
    text, dit, vae = (_Recorder(log, n) for n in ("text", "dit", "vae"))
    offload = ModelCPUOffload("cuda")
    offload.load(text)
    offload.load(text, None)  # already there: no copy
    offload.load(dit, text)   # text stays, dit comes
    offload.load(vae)         # both leave, vae comes
    offload.release()
    assert log == [("text", "cuda"), ("dit", "cuda"), ("dit", "cpu"), ("text", "cpu"),
                   ("vae", "cuda"), ("vae", "cpu")]
    assert offload.resident == ()


def _stages(monkeypatch):
    """Record the model set made resident at each `load` call of any offloader."""
    seen: list[tuple[str, ...]] = []
    original = ModelCPUOffload.load

    def load(self, *modules):
        seen.append(tuple(type(m).__name__ for m in modules if m is not None))
        return original(self, *modules)

    monkeypatch.setattr(ModelCPUOffload, "load", load)
    return seen


def test_image_to_video_offload_runs_the_stages_in_turn_with_identical_output(make_pipe, image, monkeypatch):
    pipe = make_pipe("flow")
    reference = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0))
    seen = _stages(monkeypatch)
    assert pipe.enable_model_cpu_offload("cpu") is pipe
    assert pipe.device == torch.device("cpu")
    out = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.frames, reference.frames)
    assert seen == [("MiniLMTextEncoder",), ("PatchPixelSemanticEncoder",), ("PooledRGBContentEncoder",),
                    ("ReducioDiT",), ("ReducioVAE",), ()]
    pipe.to("cpu")  # .to() turns offload off
    assert pipe._offload is None


def test_text_to_video_offload_puts_stage1_first(t2v, monkeypatch):
    reference = t2v(PROMPT, generator=torch.Generator().manual_seed(0), stage1_steps=2)
    seen = _stages(monkeypatch)
    t2v.enable_model_cpu_offload("cpu")
    out = t2v(PROMPT, generator=torch.Generator().manual_seed(0), stage1_steps=2)
    assert torch.equal(out.frames, reference.frames)
    assert seen[0] == ("ReducioStage1Generator", "MiniLMTextEncoder")
    assert seen[-2:] == [("ReducioVAE",), ()]
    t2v.to("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without CUDA")
def test_offload_to_a_missing_gpu_says_so():
    with pytest.raises(PipelineInputError, match="CUDA is not available"):
        check_offload_device("cuda")
    with pytest.raises(PipelineInputError, match="not a device name"):
        check_offload_device("gpu0")


def test_a_diffusers_stage1_uses_diffusers_offload_and_to_removes_its_hooks(pipe):
    from reducio.pipelines import DiffusersImageGenerator, ReducioTextToVideoPipeline

    calls: list = []

    class FakeDiffusersPipeline:   # the calls diffusers' DiffusionPipeline offers for this
        def enable_model_cpu_offload(self, device=None):
            calls.append(("offload", str(device)))

        def remove_all_hooks(self):
            calls.append(("remove_all_hooks",))

        def to(self, device=None, dtype=None):
            calls.append(("to", str(device)))

    t2v = ReducioTextToVideoPipeline(pipe, DiffusersImageGenerator(FakeDiffusersPipeline(), "fake/id"))
    t2v.enable_model_cpu_offload("cpu")
    assert calls == [("offload", "cpu")] and pipe._offload is not None
    t2v.to("cpu")
    assert calls[1:] == [("remove_all_hooks",), ("to", "cpu")] and pipe._offload is None


class _WithBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("scale", torch.tensor([2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.scale


def test_keep_cpu_copy_drops_the_device_copy_instead_of_copying_back():
    module = _WithBuffer()
    x = torch.randn(4, 3)
    reference = module(x)
    before = {name: t.data_ptr() for name, t in [*module.named_parameters(), *module.named_buffers()]}
    offload = ModelCPUOffload("meta", keep_cpu_copy=True)   # "meta": a device that holds no data
    offload.load(module)
    assert all(t.device.type == "meta" for t in [*module.parameters(), *module.buffers()])
    assert isinstance(module.linear.weight, nn.Parameter)   # still a parameter, only its data moved
    offload.release()
    after = {name: t.data_ptr() for name, t in [*module.named_parameters(), *module.named_buffers()]}
    assert after == before                                  # the same CPU storage: nothing copied back
    assert torch.equal(module(x), reference)
    offload.load(module)                                    # and again, from the kept copies
    offload.release()
    assert torch.equal(module(x), reference)


def test_image_to_video_offload_with_kept_cpu_copies_gives_identical_output(make_pipe, image):
    pipe = make_pipe("flow")
    reference = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0))
    pipe.enable_model_cpu_offload("cpu", keep_cpu_copy=True)
    for _ in range(2):
        out = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0))
        assert torch.equal(out.frames, reference.frames)
    assert pipe._offload.keep_cpu_copy and pipe._offload.resident == ()
