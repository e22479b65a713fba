"""diffusers' offload on the Reducio pipelines: model CPU offload moves the models in
`model_cpu_offload_seq` order, and model, sequential and group offload give the frames of the
plain pipeline. On a CPU-only machine diffusers' hooks run with the CPU as the execution device:
the moves are real hook calls (accelerate's CpuOffload / AlignDevicesHook), recorded here."""

from __future__ import annotations

import copy

import accelerate
import pytest
import torch

PROMPT = "a red circle moving right on a black background"


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def own_copy(pipe):
    """The same pipeline over deep copies of its models: offload hooks move weights to the meta
    device, which must not reach the session-wide models the other tests share."""
    components = {name: copy.deepcopy(module) if isinstance(module, torch.nn.Module) else module
                  for name, module in pipe.components.items()}
    clone = type(pipe)(**components, **{k: v for k, v in pipe.config.items()
                                         if not k.startswith("_") and k not in components})
    clone.set_progress_bar_config(disable=True)
    return clone


def _record_onloads(monkeypatch, pipe):
    """Names of the components accelerate's model-offload hook brings to the device, in order."""
    from accelerate.hooks import CpuOffload

    names = {id(module): name for name, module in pipe.components.items()
             if isinstance(module, torch.nn.Module)}
    seen: list[str] = []
    original = CpuOffload.pre_forward

    def pre_forward(self, module, *args, **kwargs):
        if not seen or seen[-1] != names.get(id(module)):
            seen.append(names.get(id(module)))
        return original(self, module, *args, **kwargs)

    monkeypatch.setattr(CpuOffload, "pre_forward", pre_forward)
    return seen


def test_model_cpu_offload_moves_models_in_sequence_with_identical_frames(t2v, monkeypatch):
    t2v = own_copy(t2v)
    call = dict(stage1_num_inference_steps=2, num_inference_steps=2, output_type="pt")
    reference = t2v(PROMPT, generator=seeded(), **call).frames
    t2v.enable_model_cpu_offload(device="cpu")
    seen = _record_onloads(monkeypatch, t2v)
    out = t2v(PROMPT, generator=seeded(), **call).frames
    assert seen == ["text_encoder", "image_transformer", "transformer", "vae"]
    assert torch.equal(out, reference)
    t2v.remove_all_hooks()


def test_sequential_cpu_offload_gives_identical_frames(pipe, image, monkeypatch):
    pipe = own_copy(pipe)
    reference = pipe(image, PROMPT, generator=seeded(), output_type="pt").frames
    # diffusers hands accelerate "cpu:0" as the execution device; accelerate's weight offload
    # mishandles an indexed CPU device (a Parameter comes back as a plain Tensor), which only a
    # CPU-only machine meets: on a GPU the device is "cuda:0". Strip the index, as a GPU would.
    offload = accelerate.cpu_offload
    monkeypatch.setattr(accelerate, "cpu_offload",
                        lambda model, device, **kwargs: offload(model, torch.device(device.type), **kwargs))
    pipe.enable_sequential_cpu_offload(device="cpu")
    hooked = [name for name, module in pipe.components.items()
              if isinstance(module, torch.nn.Module) and hasattr(module, "_hf_hook")]
    assert set(hooked) == {name for name, module in pipe.components.items()
                           if isinstance(module, torch.nn.Module)}
    out = pipe(image, PROMPT, generator=seeded(), output_type="pt").frames
    assert torch.equal(out, reference)
    pipe.remove_all_hooks()


def test_group_offload_gives_identical_frames(pipe, image):
    pipe = own_copy(pipe)
    reference = pipe(image, PROMPT, generator=seeded(), output_type="pt").frames
    pipe.enable_group_offload(onload_device=torch.device("cpu"), offload_device=torch.device("cpu"),
                              offload_type="block_level", num_blocks_per_group=1)
    out = pipe(image, PROMPT, generator=seeded(), output_type="pt").frames
    assert torch.equal(out, reference)
