"""build_vae: presets, full init, and `model.init_only` (a new decoder on released encoders)."""

import pytest
import torch

from reducio.errors import ConfigError
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.training.config import VAEModelSection
from reducio.training.vae_model import build_vae



@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    vae = ReducioVAE(VAEConfig.preset("tiny"))
    vae.save_pretrained(tmp_path / "teacher")
    return vae, str(tmp_path / "teacher")


def test_init_only_keeps_the_encoders_and_replaces_the_decoder(saved):
    # (GroupNorm's 32 groups keep the tiny preset's decoder from getting narrower: a wider one here;
    # ft4's 128 channels go down to 64 or 32 the same way)
    teacher, path = saved
    torch.manual_seed(1)
    vae = build_vae(VAEModelSection(init=path, overrides={"decoder_channels": 64},
                                    init_only=("encoder_3d", "quant_conv", "encoder_2d")))
    assert vae.config.decoder_channels == 64 and vae.config.encoder_channels == 32
    ours, theirs = vae.state_dict(), teacher.state_dict()
    copied = [n for n in ours if n.split(".")[0] in ("encoder_3d", "quant_conv", "encoder_2d")]
    assert copied and all(torch.equal(ours[n], theirs[n]) for n in copied)
    assert any(ours[n].shape != theirs[n].shape for n in ours if n.startswith("decoder."))
    # the same clip gives the same motion latent and content features as the teacher
    clip = torch.rand(1, 3, 16, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(vae.encode(clip).latent_dist.mode(), teacher.encode(clip).latent_dist.mode())
        assert vae(clip).sample.shape == clip.shape


def test_init_only_refuses_modules_the_overrides_changed(saved):
    _, path = saved
    with pytest.raises(ConfigError, match=r"init_only: \d+ tensors of .* do not fit.*decoder_channels"):
        build_vae(VAEModelSection(init=path, overrides={"decoder_channels": 64}, init_only=("decoder",)))


def test_init_only_names_unknown_prefixes_and_needs_init(saved):
    _, path = saved
    with pytest.raises(ConfigError, match=r"model.init_only: 'encoder' matches no parameter.*encoder_3d"):
        build_vae(VAEModelSection(init=path, init_only=("encoder",)))
    with pytest.raises(ConfigError, match="model.init_only .* takes parameters from model.init, which is not set"):
        build_vae(VAEModelSection(preset="tiny", init_only=("encoder_3d",)))
