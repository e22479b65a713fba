import pytest

from reducio.errors import ConfigError
from reducio.training.config import VAETrainConfig
from reducio.training.recipes import available_recipes, load_recipe


def test_bundled_recipes_load():
    assert {"release", "tiny-cpu"} <= set(available_recipes("vae"))
    for name in available_recipes("vae"):
        assert isinstance(load_recipe(name, VAETrainConfig), VAETrainConfig)


def test_release_recipe_is_the_release_config():
    release = load_recipe("release", VAETrainConfig)
    # docs/architecture.md §4, read off reducio_kl_ft4_fs32_z16_attn23.yaml and contperceptual.py.
    assert release.optim.lr == 2e-5 and release.optim.betas == (0.5, 0.9)
    assert release.optim.disc_lr_scale * release.optim.lr == pytest.approx(2e-6)
    assert release.optim.scheduler == "lambda_linear" and release.optim.f_min == 0.01
    assert release.optim.cycle_length == 1_000_000
    assert (release.optim.disc_warmup_factor, release.optim.disc_warmup_start, release.optim.disc_warmup_iters) == (0.1, 5000, 1000)
    loss = release.loss
    assert (loss.rec_loss, loss.perceptual_weight, loss.kl_weight) == ("l1", 0.1, 1e-6)
    assert (loss.penalty_weight, loss.penalty_radius) == (1.0, 3.0)
    assert (loss.disc_start, loss.disc_start_unit, loss.disc_weight) == (10001, "lightning_global_step", 0.05)
    assert loss.adaptive_disc_weight and loss.disc_loss == "hinge" and loss.motion_weight == 0.0
    assert (loss.disc_channels, loss.disc_layers) == (64, 3)
    assert (release.data.frames, release.data.size, release.data.fps, release.data.batch_size) == (16, 256, 16, 4)
    assert release.train.mixed_precision == "fp16" and not release.ema.enabled
    # The dataclass defaults are the release: the recipe file and the code cannot drift apart.
    assert release == VAETrainConfig()


def test_unknown_recipe_lists_the_valid_names():
    with pytest.raises(ConfigError, match="unknown recipe 'relase'; valid names: .*release"):
        load_recipe("relase", VAETrainConfig)


def test_recipe_for_another_task_is_refused(tmp_path):
    path = tmp_path / "dit.yaml"
    path.write_text("task: dit\n")
    with pytest.raises(ConfigError, match="task 'dit', not 'vae'"):
        load_recipe(path, VAETrainConfig)


def test_recipe_file_with_unknown_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: vae\nloss:\n  kl: 1.0e-6\n")
    with pytest.raises(ConfigError, match=r"loss\.kl .*valid keys: rec_loss"):
        load_recipe(path, VAETrainConfig)
