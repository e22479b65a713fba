"""Windowed reconstruction / encode / decode around ReducioVAE, and the latent file format."""

import pytest
import torch

from reducio.data.latent_file import LatentFile, load_latents, save_latents
from reducio.data.reconstruction import (
    compression_factors,
    decode_windows,
    encode_clip,
    join_windows,
    reconstruct_clip,
    split_windows,
    weights_warning,
)
from reducio.errors import VideoReadError, VideoWriteError
from reducio.models.vae import ReducioVAE, VAEConfig


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return ReducioVAE(VAEConfig.preset("tiny")).eval()


def test_split_and_join_windows_pad_with_last_frame():
    video = torch.arange(20, dtype=torch.float32).view(1, 20, 1, 1).expand(3, 20, 2, 2)
    windows = split_windows(video, 16)
    assert windows.shape == (2, 3, 16, 2, 2)
    assert (windows[1, 0, 4:, 0, 0] == 19).all()
    assert torch.equal(join_windows(windows, 20), video)


def test_compression_factors(vae):
    factors = compression_factors(vae, 64, 64)
    assert factors.latent_shape == (16, 4, 2, 2)
    assert factors.positions == 4096 and factors.values == 768
    with torch.device("meta"):  # factors need only the config: no memory for 437M parameters
        ft4 = ReducioVAE(VAEConfig.preset("ft4"))
    assert compression_factors(ft4, 256, 256).values == 768


def test_reconstruct_equals_forward_per_window_and_encode_decode_matches(vae):
    torch.manual_seed(1)
    video = torch.rand(3, 20, 64, 64) * 2 - 1  # 2 windows, the second padded
    recon = reconstruct_clip(vae, video, batch_size=2)
    assert recon.shape == video.shape and recon.abs().max() <= 1
    with torch.no_grad():
        first = vae(video[None, :, :16]).sample.clamp(-1, 1)[0]
    assert torch.allclose(recon[:, :16], first, atol=1e-4)  # batch 2 vs 1: float reordering only
    latent, content = encode_clip(vae, video, batch_size=1)
    assert latent.shape == (2, 16, 4, 2, 2) and content.shape == (2, 3, 64, 64)
    assert torch.equal(content[0], video[:, 7])  # middle frame (T-1)//2 of the first window
    decoded = decode_windows(vae, latent, content, frames=20, batch_size=2)
    assert torch.allclose(decoded, recon, atol=1e-4)


def test_latent_file_round_trip_and_errors(tmp_path, vae):
    data = LatentFile(latent=torch.randn(3, 16, 4, 2, 2), content=torch.rand(3, 3, 64, 64) * 2 - 1,
                      clip=torch.tensor([0, 0, 1]), sources=[{"path": "a.mp4", "frames": 30, "start": 0.0},
                                                            {"path": "b.mp4", "frames": 16, "start": 0.0}],
                      fps=16.0, window=16, vae="tiny", vae_config=vae.arch.to_dict(), sample_posterior=False)
    path = save_latents(tmp_path / "lat.safetensors", data)
    back = load_latents(path)
    assert torch.equal(back.latent, data.latent) and back.sources == data.sources
    assert torch.allclose(back.content, data.content, atol=1e-3)  # stored as float16
    latent, content = back.windows_of(0)
    assert latent.shape[0] == 2 and content.shape[0] == 2
    with pytest.raises(VideoWriteError, match=r"\.safetensors"):
        save_latents(tmp_path / "lat.pt", data)
    with pytest.raises(VideoReadError, match="not found"):
        load_latents(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"1234567890")
    with pytest.raises(VideoReadError, match="not a readable"):
        load_latents(tmp_path / "junk.safetensors")
    vae.save_pretrained(tmp_path / "weights")
    with pytest.raises(VideoReadError, match="not a latent file"):
        load_latents(tmp_path / "weights" / "diffusion_pytorch_model.safetensors")


def test_weights_warning(tmp_path, vae):
    folder = tmp_path / "vae"
    vae.save_pretrained(folder)
    assert weights_warning(vae, str(folder)) is None
    (folder / "metadata.json").write_text('{"trained": false}')
    assert "random (untrained) weights" in weights_warning(vae, str(folder))
    vae.is_random_init = True
    try:
        assert "WARNING" in weights_warning(vae, "somewhere")
    finally:
        del vae.is_random_init
