import json

import pytest
import torch
from safetensors.torch import load_file

from reducio.errors import CheckpointError, ConfigError
from reducio.training.config import EMASection, LoggingSection, RunSection, VAELossSection, VAEOptimSection, VideoDataSection
from reducio.training.logging import read_metrics
from reducio.training.loop import Trainer
from reducio.training.vae_objective import VAEObjective
from training_toys import SquaresDataset, ToyVAE, toy_config


def _fit(run_dir, max_steps, resume=None, **sections):
    torch.manual_seed(0)  # the same initial toy weights in every run
    config = toy_config(**sections)
    config = config.replace(train=config.train.replace(max_steps=max_steps))
    objective = VAEObjective(config, vae=ToyVAE())
    return Trainer(config, objective, SquaresDataset(length=8), run_dir=run_dir, resume=resume).fit()


def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    # 8 clips, batch 2: 4 batches per epoch, so the resume at step 3 is mid-epoch and step 5 starts epoch 2.
    # disc_start 3 (Lightning unit): the discriminator trains from iteration 1, the generator's GAN term from 2.
    _fit(tmp_path / "straight", 6)
    _fit(tmp_path / "split", 3)
    _fit(tmp_path / "split", 6, resume="latest")
    straight = read_metrics(tmp_path / "straight")
    split = read_metrics(tmp_path / "split")
    keys = ["loss/total", "loss/rec", "loss/kl", "loss/g", "loss/disc", "disc/d_weight", "lr/ae", "lr/disc"]
    assert [r["step"] for r in split] == [1, 2, 3, 4, 5, 6]
    assert [[r[k] for k in keys] for r in straight] == [[r[k] for k in keys] for r in split]
    assert straight[-1]["loss/g"] != 0 and straight[-1]["disc/factor"] == 1.0
    for name in ("models/vae.safetensors", "models/discriminator.safetensors", "ema.safetensors"):
        a = load_file(tmp_path / "straight/checkpoints/step-00000006" / name)
        b = load_file(tmp_path / "split/checkpoints/step-00000006" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = json.loads((tmp_path / "split/checkpoints/step-00000006/state.json").read_text())
    assert state["data"] == {"epoch": 1, "batch": 2}


def test_run_outputs_and_refusal_to_overwrite(tmp_path):
    run = tmp_path / "run"
    train = RunSection(max_steps=4, mixed_precision="no", gradient_checkpointing=False, cpu=True, log_every=2,
                       sample_every=2, save_every=1, keep_last=2)
    summary = _fit(run, 4, train=train)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000003", "step-00000004"]
    assert (run / "samples/step-00000004.png").is_file() and (run / "final/model.safetensors").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["effective"]["perceptual_weight_effective"] == 0.0
    assert config["effective"]["discriminator"].startswith("3D PatchGAN; generator term from iteration 2")
    metrics = read_metrics(run)
    assert [r["step"] for r in metrics if "loss/total" in r] == [2, 4]
    assert any("sample/psnr" in r for r in metrics)
    assert summary.final_step == 4 and summary.steps_this_run == 4
    assert json.loads((run / "summary.json").read_text())["final_metrics"]["loss/total"] > 0
    with pytest.raises(CheckpointError, match="already holds checkpoints.*--resume"):
        _fit(run, 4, train=train)


def _fixed_batch_run(tmp_path, model, frames, size, batch_size=2):
    config = toy_config(
        data=VideoDataSection(kind="shapes", frames=frames, size=size, batch_size=batch_size, num_workers=0,
                              shuffle=False),
        optim=VAEOptimSection(lr=2e-3, betas=(0.9, 0.99), scheduler="constant"),
        loss=VAELossSection(perceptual_weight=0.0, disc_enabled=False),
        train=RunSection(max_steps=50, mixed_precision="no", gradient_checkpointing=False, cpu=True, log_every=1,
                         sample_every=0, save_every=0),
        ema=EMASection(enabled=False),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=0),
    )
    Trainer(config, VAEObjective(config, vae=model), SquaresDataset(length=batch_size, frames=frames, size=size),
            run_dir=tmp_path).fit()
    rec = [r["loss/rec"] for r in read_metrics(tmp_path)]
    assert len(rec) == 50
    return rec


def test_max_minutes_stops_early_with_a_checkpoint_and_export(tmp_path):
    run = tmp_path / "run"
    train = RunSection(max_steps=50, max_minutes=0.0, mixed_precision="no", gradient_checkpointing=False,
                       cpu=True, log_every=10, sample_every=0, save_every=20, keep_last=2)
    summary = _fit(run, 50, train=train)
    assert summary.final_step == 1 and summary.steps_this_run == 1
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000001"]
    assert (run / "final/model.safetensors").is_file()
    resumed = _fit(run, 3, resume="latest", train=train.replace(max_minutes=None))
    assert (resumed.start_step, resumed.final_step) == (1, 3)


def test_save_every_minutes_saves_on_the_clock_whatever_the_step_count(tmp_path):
    base = RunSection(max_steps=3, mixed_precision="no", gradient_checkpointing=False, cpu=True,
                      log_every=1, sample_every=0, save_every=0, keep_last=5)
    _fit(tmp_path / "steps", 3, train=base)                       # save_every=0: only the last step
    assert [p.name for p in (tmp_path / "steps/checkpoints").iterdir()] == ["step-00000003"]
    _fit(tmp_path / "clock", 3, train=base.replace(save_every_minutes=1e-9))  # due after every step
    assert sorted(p.name for p in (tmp_path / "clock/checkpoints").iterdir()) == [
        "step-00000001", "step-00000002", "step-00000003"]
    for bad in (0, -1.0):
        with pytest.raises(ConfigError, match="train.save_every_minutes must be > 0"):
            base.replace(save_every_minutes=bad)


def test_loss_halves_within_50_steps_on_a_fixed_batch(tmp_path):
    torch.manual_seed(0)
    rec = _fixed_batch_run(tmp_path, ToyVAE(), frames=8, size=16)
    assert min(rec[-5:]) < 0.5 * rec[0], rec


@pytest.mark.slow
def test_tiny_reducio_vae_loss_halves_within_50_steps(tmp_path):
    # The real architecture at 8 frames x 32 px; about 2 s per step on a shared 2-core CPU.
    from reducio.models.vae import ReducioVAE, VAEConfig

    torch.manual_seed(0)
    model = ReducioVAE(VAEConfig.preset("tiny").replace(frames=8))
    rec = _fixed_batch_run(tmp_path, model, frames=8, size=32, batch_size=1)
    assert min(rec[-5:]) < 0.5 * rec[0], rec


def test_frozen_prefixes_stay_fixed_while_the_rest_trains(tmp_path):
    from reducio.training.config import VAEModelSection

    torch.manual_seed(0)
    vae = ToyVAE()
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    config = toy_config(model=VAEModelSection(preset="tiny", freeze=("encoder",)))
    config = config.replace(train=config.train.replace(max_steps=3))
    Trainer(config, VAEObjective(config, vae=vae), SquaresDataset(length=8), run_dir=tmp_path).fit()
    after = vae.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model"]["freeze"] == ["encoder"]


def test_freezing_an_unknown_module_names_the_valid_ones(tmp_path):
    from reducio.errors import ConfigError
    from reducio.training.config import VAEModelSection

    config = toy_config(model=VAEModelSection(preset="tiny", freeze=("encoder_3d",)))
    with pytest.raises(ConfigError, match=r"'encoder_3d' matches no parameter.*\['content', 'decoder', 'encoder'\]"):
        Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(length=8), run_dir=tmp_path).fit()


def test_freezing_everything_is_refused(tmp_path):
    from reducio.errors import ConfigError
    from reducio.training.config import VAEModelSection

    config = toy_config(model=VAEModelSection(preset="tiny", freeze=("encoder", "content", "decoder")))
    with pytest.raises(ConfigError, match="nothing left to train"):
        Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(length=8), run_dir=tmp_path).fit()


def test_fsdp_for_an_objective_that_cannot_shard_is_refused(tmp_path):
    from reducio.errors import ConfigError

    config = toy_config()
    config = config.replace(train=config.train.replace(fsdp=True))
    with pytest.raises(ConfigError, match=r"train.fsdp=true: VAEObjective cannot shard.*train.fsdp=false"):
        Trainer(config, VAEObjective(config, vae=ToyVAE()), SquaresDataset(length=8), run_dir=tmp_path).fit()
