"""Saving and loading pipelines through diffusers, and folders in the older reducio layout."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reducio.cli.main import main
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline

PROMPT = "a red circle moving right on a black background"
LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_text_to_video_save_load_round_trip_gives_identical_frames(t2v, tmp_path):
    t2v.save_pretrained(tmp_path / "pipe")
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert index["transformer"] == ["reducio.models.dit.transformer", "ReducioDiT"]
    assert index["semantic_encoder_config"]["class"] == "PatchPixelSemanticEncoder"
    loaded = ReducioTextToVideoPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    kwargs = dict(stage1_num_inference_steps=2, num_inference_steps=2, output_type="pt")
    a = t2v(PROMPT, generator=seeded(), **kwargs)
    b = loaded(PROMPT, generator=seeded(), **kwargs)
    assert torch.equal(a.frames, b.frames)


def test_image_to_video_round_trip(pipe, image, tmp_path):
    pipe.save_pretrained(tmp_path / "i2v")
    loaded = ReducioImageToVideoPipeline.from_pretrained(tmp_path / "i2v")
    loaded.set_progress_bar_config(disable=True)
    a = pipe(image, PROMPT, generator=seeded(), output_type="latent").latents
    b = loaded(image, PROMPT, generator=seeded(), output_type="latent").latents
    assert torch.equal(a, b)


def diffusers_warnings(load) -> list[str]:
    """The messages diffusers' loggers emit while `load()` runs."""
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    diffusers_logger = logging.getLogger("diffusers")
    diffusers_logger.addHandler(handler)
    try:
        load()
    finally:
        diffusers_logger.removeHandler(handler)
    return seen


def test_a_text_to_video_folder_loads_as_image_to_video_with_one_line_instead_of_warnings(
        t2v, pipe, image, tmp_path, caplog):
    t2v.save_pretrained(tmp_path / "t2v")
    loaded = []
    with caplog.at_level(logging.INFO, logger="reducio.pipelines.base"):
        warnings = diffusers_warnings(
            lambda: loaded.append(ReducioImageToVideoPipeline.from_pretrained(tmp_path / "t2v")))
    assert not [m for m in warnings if "not expected" in m]
    assert "reads the ReducioTextToVideoPipeline folder" in caplog.text
    assert "image_transformer" not in loaded[0].components
    a = pipe(image, PROMPT, generator=seeded(), output_type="latent", num_inference_steps=2).latents
    b = loaded[0](image, PROMPT, generator=seeded(), output_type="latent", num_inference_steps=2).latents
    assert torch.equal(a, b)


def test_an_unknown_entry_in_a_folder_of_the_same_class_still_warns(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "i2v")
    index_path = tmp_path / "i2v" / "model_index.json"
    index = json.loads(index_path.read_text())
    index["made_up_setting"] = 1
    index_path.write_text(json.dumps(index))
    warnings = diffusers_warnings(lambda: ReducioImageToVideoPipeline.from_pretrained(tmp_path / "i2v"))
    assert any("made_up_setting" in m and "not expected" in m for m in warnings)


def test_legacy_folder_loads_and_converts_with_the_reference_frames(tmp_path):
    """tests/fixtures/legacy/pipeline was written by the code before the pipelines were diffusers
    pipelines, with its frames (then: (B, 3, T, H, W) in [-1, 1]); the same call now gives
    diffusers' (B, T, 3, H, W) in [0, 1] with the same values. Identical at the thread count
    the reference was made with (2); the tests run on one thread, where CPU kernels sum in another
    order, so the values agree to float rounding (measured: at most 1.8e-7)."""
    reference = load_file(LEGACY / "reference_outputs.safetensors")["pipeline_frames"]
    expected = (reference.clamp(-1, 1) / 2 + 0.5).permute(0, 2, 1, 3, 4)
    call = dict(num_inference_steps=3, output_type="pt")

    pipe = ReducioTextToVideoPipeline.from_pretrained(LEGACY / "pipeline")
    pipe.set_progress_bar_config(disable=True)
    torch.testing.assert_close(pipe(PROMPT, generator=seeded(1), **call).frames, expected,
                               atol=1e-6, rtol=0)

    assert main(["convert", str(LEGACY / "pipeline"), "-o", str(tmp_path / "new")]) == 0
    assert "_reducio_format" not in json.loads((tmp_path / "new" / "model_index.json").read_text())
    assert not (tmp_path / "new" / "text_encoder").exists()  # the packaged MiniLM stays named
    converted = ReducioTextToVideoPipeline.from_pretrained(tmp_path / "new")
    converted.set_progress_bar_config(disable=True)
    torch.testing.assert_close(converted(PROMPT, generator=seeded(1), **call).frames, expected,
                               atol=1e-6, rtol=0)


def test_a_missing_component_folder_is_named(tmp_path, pipe):
    import shutil

    from reducio.errors import CheckpointError

    pipe.save_pretrained(tmp_path / "pipe")
    shutil.rmtree(tmp_path / "pipe" / "text_encoder")
    with pytest.raises(CheckpointError, match=r"component folder\(s\) \['text_encoder'\] missing"):
        ReducioImageToVideoPipeline.from_pretrained(tmp_path / "pipe")
