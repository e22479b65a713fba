"""`reducio train reranker`: the stage-1 reranker on the shared loop (CPU, a few steps), exact
resume, and its final/ as the pipeline component a text-to-video pipeline loads."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from reducio.errors import ConfigError
from reducio.pipelines import ReducioTextToVideoPipeline
from reducio.pipelines.stage1 import ImageReranker
from reducio.training.config import RerankerTrainConfig
from reducio.training.logging import read_metrics
from reducio.training.recipes import load_recipe
from training_toys import run_cli

SMALL = ["--set", "data.batch_size=6", "--set", "data.length=64", "--set", "model.width=8", "--set", "model.dim=16",
         "--set", "train.save_every=1", "--set", "train.sample_every=2", "--set", "train.log_every=1",
         "--set", "train.max_minutes=null", "--set", "logging.num_samples=4",
         "--set", "logging.progress_bar=false", "--set", "logging.tensorboard=false"]


def test_the_recipe_keeps_the_scripts_defaults():
    """The settings the reranker of the built-in pipeline was trained with (batch 256, AdamW lr
    1e-3, weight decay 0.01, 384-d embeddings, width 32, 40 minutes, the tiny pipeline's MiniLM)."""
    config = load_recipe("reranker-tiny-cpu", RerankerTrainConfig)
    assert (config.data.batch_size, config.optim.lr, config.optim.weight_decay) == (256, 1e-3, 0.01)
    assert (config.model.dim, config.model.width, config.model.pipeline) == (384, 32, "tiny")
    assert (config.data.hard_negatives, config.data.augment, config.train.max_minutes) == (0, False, 40)
    assert not config.ema.enabled and config.train.mixed_precision == "no"


def test_train_reranker_runs_resumes_exactly_and_exports_a_pipeline_component(tmp_path, capsys):
    torch.set_num_threads(1)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_cli(["train", "reranker", "--output-dir", str(straight), "--max-steps", "3", *SMALL]) == 0
    assert "trained reranker: steps 0 -> 3" in capsys.readouterr().out
    assert run_cli(["train", "reranker", "--output-dir", str(split), "--max-steps", "2", *SMALL]) == 0
    assert run_cli(["train", "reranker", "--output-dir", str(split), "--resume", "--max-steps", "3"]) == 0

    losses = [[r["loss/total"] for r in read_metrics(run) if "loss/total" in r] for run in (straight, split)]
    assert len(losses[0]) == 3 and losses[0] == losses[1]
    a = load_file(straight / "final" / "diffusion_pytorch_model.safetensors")
    b = load_file(split / "final" / "diffusion_pytorch_model.safetensors")
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    samples = [r for r in read_metrics(straight) if "sample/val_top1" in r]
    assert [r["step"] for r in samples] == [2] and 0.0 <= samples[0]["sample/val_top1"] <= 1.0

    # final/ is an image_reranker: a text-to-video pipeline takes it and reranks with it
    reranker = ImageReranker.from_pretrained(straight / "final")
    assert (reranker.config.text_dim, reranker.config.dim, reranker.config.width) == (384, 16, 8)
    assert json.loads((straight / "config.json").read_text())["effective"]["reranker_config"]["dim"] == 16
    pipe = ReducioTextToVideoPipeline.from_pretrained("tiny")
    pipe.register_modules(image_reranker=reranker)
    pipe.set_progress_bar_config(disable=True)
    out = pipe("a red circle moving right on a black background", num_inference_steps=1, stage1_num_inference_steps=1,
               num_candidates=2, generator=torch.Generator().manual_seed(0), output_type="latent")
    assert out.latents.shape[0] == 1

    # and `reducio train export` writes the same model from the run's checkpoint
    assert run_cli(["train", "export", str(straight), "-o", str(tmp_path / "exported"), "--raw"]) == 0
    c = load_file(tmp_path / "exported" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_init_reads_the_shipped_reranker_and_hard_negatives_train(tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    assert run_cli(["train", "reranker", "--output-dir", str(run), "--max-steps", "1", "--init", "tiny",
                    "--set", "data.hard_negatives=2", "--set", "data.augment=true", *SMALL]) == 0
    reranker = ImageReranker.from_pretrained(run / "final")
    assert (reranker.config.dim, reranker.config.width) == (384, 32)  # the shipped one's, not model.dim/width
    assert torch.isfinite(torch.tensor([r["loss/total"] for r in read_metrics(run) if "loss/total" in r])).all()


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="data.batch_size must be >= 2"):
        run_cli(["train", "reranker", "--output-dir", str(tmp_path), "--set", "data.batch_size=1"])
    with pytest.raises(ConfigError, match="model.width must be a multiple of 8"):
        run_cli(["train", "reranker", "--output-dir", str(tmp_path), "--set", "model.width=12"])
