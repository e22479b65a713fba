"""Stage1Objective (the built-in text-to-image generator) on the shared loop."""

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import HashText, micro_vae  # noqa: E402
from training_toys import run_cli  # noqa: E402

from reducio.errors import ConfigError  # noqa: E402
from reducio.pipelines.extract import ExtractConfig, extract  # noqa: E402
from reducio.training.config import (  # noqa: E402
    DiTOptimSection,
    EMASection,
    ImageDataSection,
    LoggingSection,
    RunSection,
    Stage1ModelSection,
    Stage1SamplingSection,
    Stage1TrainConfig,
)
from reducio.training.data import first_items_batch  # noqa: E402
from reducio.training.logging import read_metrics  # noqa: E402
from reducio.training.loop import Trainer, make_accelerator  # noqa: E402
from reducio.training.stage1_objective import ContentFrameDataset, Stage1Objective  # noqa: E402

SMALL = Stage1ModelSection(dit_overrides={"text_dim": 16, "depth": 2, "hidden_size": 64, "num_heads": 4},
                           overrides={"image_size": 32})


def _config(**changes) -> Stage1TrainConfig:
    base = dict(
        model=SMALL,
        data=ImageDataSection(kind="shapes", size=32, frames=8, length=8, batch_size=4, num_workers=0),
        optim=DiTOptimSection(lr=2e-3, eps=1e-8, weight_decay=0.0, warmup_steps=0, grad_clip=1.0),
        sampling=Stage1SamplingSection(steps=2),
        train=RunSection(max_steps=4, mixed_precision="no", gradient_checkpointing=False, cpu=True, log_every=1,
                         sample_every=3, save_every=3, keep_last=5),
        ema=EMASection(enabled=True, decay=0.9),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=2),
    )
    base.update(changes)
    return Stage1TrainConfig(**base)


def test_content_frames_are_the_middle_frames():
    from reducio.data.synthetic.world import ShapesDataset

    item, clip = ContentFrameDataset("train", size=32, frames=8, length=2)[1], ShapesDataset("train", 32, 8, 2)[1]
    assert torch.equal(item["image"], clip["video"][:, 3]) and item["caption"] == clip["caption"]


def test_frames_outside_the_vocabulary_come_with_their_captions():
    from reducio.data.synthetic.outside import WithOutsideClips
    from reducio.data.synthetic.world import ShapesDataset

    mixed = ContentFrameDataset("train", size=32, frames=8, length=40, outside_vocabulary_share=0.5)
    reference = WithOutsideClips(ShapesDataset("train", 32, 8, 40), 0.5)
    world = ShapesDataset("train", 32, 8, 40)
    outside = 0
    for i in range(40):
        item, clip = mixed[i], reference[i]
        assert torch.equal(item["image"], clip["video"][:, 3]) and item["caption"] == clip["caption"]
        outside += item["caption"] != world[i]["caption"]
    assert 0 < outside < 40
    with pytest.raises(ConfigError, match="outside_vocabulary_share"):
        ImageDataSection(kind="shapes", outside_vocabulary_share=2.0)
    with pytest.raises(ConfigError, match="data.kind=shapes"):
        ImageDataSection(kind="shards", root="x", outside_vocabulary_share=0.5)


def test_training_lowers_the_loss_on_a_fixed_batch():
    torch.set_num_threads(1)
    config = _config()
    torch.manual_seed(0)
    objective = Stage1Objective(config, text_encoder=HashText())
    objective.setup(make_accelerator(config.train))
    batch = first_items_batch(ContentFrameDataset("train", size=32, frames=8, length=4), 4)
    images, tokens, mask = objective._inputs(batch)
    no_drop = torch.zeros(4, dtype=torch.bool)

    def fixed_loss():
        with torch.no_grad():
            return float(objective.model.training_loss(images, tokens, mask, generator=torch.Generator().manual_seed(0),
                                                       drop_text=no_drop))

    before = fixed_loss()
    for step in range(30):
        objective.training_step(batch, step)
    assert fixed_loss() < 0.7 * before
    assert len(objective._cache) == len(set(batch["caption"]))  # captions encoded once


def _fit(run_dir, max_steps, resume=None):
    torch.manual_seed(0)
    config = _config(train=RunSection(max_steps=max_steps, mixed_precision="no", gradient_checkpointing=False,
                                      cpu=True, log_every=1, sample_every=3, save_every=3, keep_last=5))
    dataset = ContentFrameDataset("train", size=32, frames=8, length=8)
    return Trainer(config, Stage1Objective(config, text_encoder=HashText()), dataset, run_dir=run_dir,
                   resume=resume).fit()


def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    _fit(tmp_path / "straight", 6)
    _fit(tmp_path / "split", 3)
    _fit(tmp_path / "split", 6, resume="latest")
    straight = [(r["step"], r["loss/total"]) for r in read_metrics(tmp_path / "straight") if "loss/total" in r]
    split = [(r["step"], r["loss/total"]) for r in read_metrics(tmp_path / "split") if "loss/total" in r]
    assert straight == split and len(split) == 6
    a = load_file(tmp_path / "straight/checkpoints/step-00000006/models/stage1.safetensors")
    b = load_file(tmp_path / "split/checkpoints/step-00000006/models/stage1.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "straight/samples/step-00000006.png").is_file()


def test_train_stage1_cli_on_shards(tmp_path, capsys):
    from reducio.pipelines.stage1 import ReducioStage1Generator

    torch.set_num_threads(1)
    shards = tmp_path / "shards"
    extract(ExtractConfig(output=str(shards), source="synthetic", count=4, size=32, frames=8, vae="random:micro",
                          text_encoder="hash", device="cpu"),
            vae=micro_vae(), text_encoder=HashText(), rank=0, world_size=1, progress=False)
    run = tmp_path / "run"
    assert run_cli([
        "train", "stage1", "--output-dir", str(run), "--max-steps", "2", "--set", "data.kind=shards",
        "--set", f"data.root={shards}", "--set", "data.batch_size=2", "--set", "model.dit_overrides.text_dim=16",
        "--set", "model.dit_overrides.depth=1", "--set", "model.overrides.image_size=32",
        "--set", "sampling.steps=2", "--set", "train.sample_every=2", "--set", "logging.progress_bar=false",
        "--set", "logging.tensorboard=false", "--set", "logging.num_samples=2"]) == 0
    assert "trained stage1: steps 0 -> 2" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["effective"]["data"] == "shards"
    generator = ReducioStage1Generator.from_pretrained(run / "final")
    assert generator.config.image_size == 32 and generator.config.dit.depth == 1
    assert (run / "samples/step-00000002.png").is_file()


def test_fine_tuning_applies_model_diffusion_and_keeps_the_objective(tmp_path):
    """With model.init, model.diffusion changes how training noises (here: logit-normal timesteps)
    instead of being ignored; changing the objective itself is refused."""
    from reducio.errors import ConfigError
    from reducio.pipelines.stage1 import ReducioStage1Generator, Stage1Config
    from reducio.training.stage1_objective import fine_tune_diffusion

    config = Stage1Config.preset("tiny-image")
    tuned = fine_tune_diffusion(config, {"timestep_sampling": "logit_normal", "logit_normal_mean": 0.8}, "w")
    assert tuned.diffusion.timestep_sampling == "logit_normal" and tuned.diffusion.logit_normal_mean == 0.8
    assert tuned.diffusion.objective == config.diffusion.objective and tuned.dit == config.dit
    assert fine_tune_diffusion(config, {}, "w") is config
    model = ReducioStage1Generator(config)
    model.config = tuned
    assert model.objective.config.timestep_sampling == "logit_normal"
    other = "epsilon" if config.diffusion.objective != "epsilon" else "flow"
    with pytest.raises(ConfigError, match=f"objective='{other}' but w was trained with .*keeps the objective"):
        fine_tune_diffusion(config, {"objective": other}, "w")


def test_fine_tuning_overrides_add_a_refiner_and_refuse_architecture_changes():
    from reducio.errors import ConfigError
    from reducio.pipelines.stage1 import ReducioStage1Generator, Stage1Config
    from reducio.training.stage1_objective import fine_tune_overrides

    model = ReducioStage1Generator(Stage1Config.preset("tiny-image"))
    fine_tune_overrides(model, {"refiner_width": 8, "guidance_scale": 2.0}, "w")
    assert model.refiner is not None and model.config.refiner_width == 8 and model.config.guidance_scale == 2.0
    fine_tune_overrides(model, {"refiner_width": 8}, "w")             # already there: unchanged
    with pytest.raises(ConfigError, match="has refiner width/depth 8/4; a fine-tune cannot change it to 16/4"):
        fine_tune_overrides(model, {"refiner_width": 16}, "w")
    with pytest.raises(ConfigError, match=r"model.overrides \['image_size'\] cannot change a model loaded from w"):
        fine_tune_overrides(model, {"image_size": 32}, "w")


def test_fine_tuning_shrinks_patches_and_refuses_other_dit_changes(tmp_path):
    """model.dit_overrides with model.init: a smaller patch_size maps the loaded weights (the
    result saves and loads with the new size); any other changed DiT field is refused instead of
    being ignored; fields equal to the loaded ones pass."""
    from reducio.errors import ConfigError
    from reducio.pipelines.stage1 import ReducioStage1Generator, Stage1Config
    from reducio.training.stage1_objective import fine_tune_dit

    model = ReducioStage1Generator(Stage1Config.preset("tiny-image"))
    assert tuple(model.dit.arch.patch_size) == (1, 8, 8)
    blocks_before = model.dit.blocks[0].attn.to_q.weight.clone()
    fine_tune_dit(model, {"patch_size": [1, 4, 4], "prediction_type": model.dit.arch.prediction_type}, "w")
    assert tuple(model.dit.arch.patch_size) == (1, 4, 4) == tuple(model.config.dit.patch_size)
    assert torch.equal(model.dit.blocks[0].attn.to_q.weight, blocks_before)
    noisy = torch.randn(2, 3, 1, 64, 64)
    text = torch.randn(2, 5, model.dit.arch.text_dim)
    assert model.denoise(noisy, torch.tensor([10.0, 900.0]), text=text).shape == noisy.shape
    model.save_pretrained(tmp_path / "g4")
    loaded = ReducioStage1Generator.from_pretrained(tmp_path / "g4")
    assert tuple(loaded.dit.arch.patch_size) == (1, 4, 4)
    assert torch.equal(loaded.dit.patch_embed.weight, model.dit.patch_embed.weight)
    fine_tune_dit(model, {}, "w")
    with pytest.raises(ConfigError, match=r"model.dit_overrides \['depth'\] cannot change the DiT loaded from w"):
        fine_tune_dit(model, {"depth": 3}, "w")
    with pytest.raises(ConfigError, match="divide the old one"):
        fine_tune_dit(model, {"patch_size": [1, 3, 3]}, "w")
