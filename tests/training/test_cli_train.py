"""`reducio train vae` end to end: the tiny Reducio-VAE on the synthetic world, a few steps, then resume."""

import json

import pytest
import torch

from reducio.errors import ConfigError
from reducio.training.logging import read_metrics
from training_toys import run_cli as _run


SMALL = ["--set", "data.size=32", "--set", "data.frames=8", "--set", "model.overrides.frames=8",
         "--set", "data.batch_size=1", "--set", "train.save_every=1", "--set", "train.sample_every=2",
         "--set", "train.log_every=1", "--set", "logging.progress_bar=false", "--set", "logging.tensorboard=false"]


def test_train_vae_runs_saves_and_resumes(tmp_path, capsys):
    from reducio.models.vae import ReducioVAE

    run = tmp_path / "run"
    assert _run(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(run), "--max-steps", "2", *SMALL]) == 0
    assert "trained vae: steps 0 -> 2" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["preset"] == "tiny" and config["model"]["overrides"]["encoder_residual"] is True
    assert config["effective"]["perceptual_weight_effective"] == 0.0
    assert config["effective"]["discriminator"] == "off"
    assert (run / "samples" / "step-00000002.png").is_file()

    assert _run(["train", "vae", "--output-dir", str(run), "--resume", "--max-steps", "3"]) == 0
    metrics = [r for r in read_metrics(run) if "loss/total" in r]
    assert [r["step"] for r in metrics] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor(r["loss/total"])) for r in metrics)
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["start_step"], summary["final_step"]) == (2, 3)
    vae = ReducioVAE.from_pretrained(run / "final")  # the exported model loads for reconstruction
    assert vae.config.frames == 8


def test_release_recipe_on_cpu_names_the_fp16_problem(tmp_path):
    with pytest.raises(ConfigError, match="fp16 needs a GPU.*train.mixed_precision=no"):
        _run(["train", "vae", "--recipe", "release", "--output-dir", str(tmp_path), "--set", "data.kind=shapes",
              "--set", "train.cpu=true"])


def test_bad_override_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'optim.learning_rate'"):
        _run(["train", "vae", "--output-dir", str(tmp_path), "--set", "optim.learning_rate=1"])


def test_content_dropout_is_drawn_per_sample_and_resumes_bitwise(tmp_path, monkeypatch):
    """loss.content_dropout reaches the model as a per-sample keep mask drawn from the checkpointed
    RNG: a resumed run draws the same masks as an uninterrupted one."""
    from reducio.models.vae import ReducioVAE

    masks = []
    original = ReducioVAE.forward

    def spy(self, video, *args, **kwargs):
        keep = kwargs.get("content_keep")
        if keep is not None:
            masks.append(keep.tolist())
        return original(self, video, *args, **kwargs)

    monkeypatch.setattr(ReducioVAE, "forward", spy)
    extra = [*SMALL, "--set", "loss.content_dropout=0.5", "--set", "data.batch_size=4",
             "--set", "train.sample_every=100"]
    assert _run(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(tmp_path / "a"),
                 "--max-steps", "4", *extra]) == 0
    straight = list(masks)
    assert len(straight) == 4 and all(len(m) == 4 for m in straight)
    flat = [v for m in straight for v in m]
    assert 0.0 in flat and 1.0 in flat  # both kept and dropped samples occur
    masks.clear()
    assert _run(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(tmp_path / "b"),
                 "--max-steps", "2", *extra]) == 0
    assert _run(["train", "vae", "--output-dir", str(tmp_path / "b"), "--resume", "--max-steps", "4"]) == 0
    assert masks == straight


def test_ssim_weight_adds_a_logged_ssim_term(tmp_path):
    run = tmp_path / "run"
    assert _run(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(run), "--max-steps", "2", *SMALL,
                 "--set", "loss.ssim_weight=0.5", "--set", "train.sample_every=0"]) == 0
    metrics = [r for r in read_metrics(run) if "loss/total" in r]
    assert len(metrics) == 2 and all(0.0 < r["loss/ssim"] <= 2.0 for r in metrics)
    assert json.loads((run / "config.json").read_text())["loss"]["ssim_weight"] == 0.5
    with pytest.raises(ConfigError, match="loss.ssim_weight must be >= 0"):
        _run(["train", "vae", "--output-dir", str(tmp_path / "bad"), "--set", "loss.ssim_weight=-1"])
