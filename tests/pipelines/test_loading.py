"""Whole-pipeline folders: layout, round trip, the built-in default's missing-weights error."""

from __future__ import annotations

import json

import pytest
import torch

from reducio.errors import CheckpointError, ModelNotFoundError, ReducioError
from reducio.pipelines import (
    BuiltinPipelineMissingError,
    ReducioImageToVideoPipeline,
    ReducioTextToVideoPipeline,
    load_pipeline,
)

PROMPT = "a red circle moving right on a black background"


def test_image_to_video_round_trip(pipe, image, tmp_path):
    pipe.save_pretrained(tmp_path / "pipe")
    index = json.loads((tmp_path / "pipe" / "model_index.json").read_text())
    assert index["_class_name"] == "ReducioImageToVideoPipeline"
    assert index["vae"] == ["reducio", "ReducioVAE"] and index["dit"] == ["reducio", "ReducioDiT"]
    assert index["text_encoder"] == ["reducio", "MiniLMTextEncoder"]
    assert index["semantic_encoder"] == ["reducio", "PatchPixelSemanticEncoder"]
    assert index["content_encoder"] == ["reducio", "PooledRGBContentEncoder"]
    assert index["scheduler"] == ["diffusers", "DPMSolverMultistepScheduler"]
    assert index["defaults"]["num_inference_steps"] == 2
    for sub in ("vae/model.safetensors", "dit/model.safetensors", "scheduler/scheduler_config.json",
                "diffusion/config.json", "text_encoder/reference.json"):
        assert (tmp_path / "pipe" / sub).is_file()

    loaded = ReducioImageToVideoPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    assert isinstance(loaded, ReducioImageToVideoPipeline)
    a = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0))
    b = loaded(image, PROMPT, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.frames, b.frames)
    assert torch.equal(a.latents, b.latents)


def test_a_vae_reference_loads_the_named_vae_instead_of_a_copy(pipe, image, tmp_path):
    pipe.vae.save_pretrained(tmp_path / "my-vae")
    reference = {"class": "ReducioVAE", "pretrained": str(tmp_path / "my-vae")}
    pipe.save_pretrained(tmp_path / "pipe", references={"vae": reference})
    assert not (tmp_path / "pipe/vae/model.safetensors").exists()
    assert json.loads((tmp_path / "pipe/vae/reference.json").read_text()) == reference
    loaded = ReducioImageToVideoPipeline.from_pretrained(tmp_path / "pipe")
    loaded.set_progress_bar_config(disable=True)
    a = pipe(image, PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent")
    b = loaded(image, PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent")
    assert torch.equal(a.latents, b.latents)
    assert all(torch.equal(x, y) for x, y in zip(pipe.vae.state_dict().values(), loaded.vae.state_dict().values()))
    with pytest.raises(ReducioError, match="VAE reference needs"):
        pipe.save_pretrained(tmp_path / "bad", references={"vae": {"pretrained": "tiny"}})


def test_text_to_video_round_trip_shares_the_text_encoder(t2v, tmp_path):
    t2v.save_pretrained(tmp_path / "t2v")
    index = json.loads((tmp_path / "t2v" / "model_index.json").read_text())
    assert index["stage1"] == ["reducio", "ReducioStage1Generator"]
    loaded = ReducioTextToVideoPipeline.from_pretrained(tmp_path / "t2v")
    loaded.set_progress_bar_config(disable=True)
    assert loaded.stage1._text_encoder is loaded.image_pipeline.text_encoder
    kwargs = dict(stage1_steps=2, output_type="latent")
    a = t2v(PROMPT, generator=torch.Generator().manual_seed(1), **kwargs)
    b = loaded(PROMPT, generator=torch.Generator().manual_seed(1), **kwargs)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.latents, b.latents)
    with pytest.raises(CheckpointError, match="image-to-video"):
        t2v.image_pipeline.save_pretrained(tmp_path / "i2v")
        ReducioTextToVideoPipeline.from_pretrained(tmp_path / "i2v")


def test_builtin_missing_gives_a_clear_error(monkeypatch, tmp_path):
    import reducio.pipelines.loading as loading

    monkeypatch.setattr(loading, "assets_root", lambda: tmp_path)
    for name in (None, "builtin"):
        with pytest.raises(BuiltinPipelineMissingError) as error:
            load_pipeline(name)
        message = str(error.value)
        assert "built-in generator weights are not installed" in message
        assert "train" in message and "--pipeline" in message
        assert isinstance(error.value, ReducioError)


def test_not_a_pipeline_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model_index.json is missing"):
        load_pipeline(tmp_path)
    with pytest.raises(ModelNotFoundError, match="no pipeline folder"):
        load_pipeline(tmp_path / "absent")
