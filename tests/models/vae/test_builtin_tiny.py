"""The shipped built-in `tiny` VAE weights (src/reducio/assets/vae-tiny/) really reconstruct.

Skipped when the asset is not installed or is flagged untrained (`metadata.json` "trained":
false). On 4 clips of the shapes world's `test` split (posterior mode) the weights must
(a) beat the baseline of repeating the content frame by 2 dB, and (b) use their motion latent:
decoding a clip's content frame with another clip's latent must lose 2 dB against its own.
Content-copying weights (swap gap ~0 dB, PSNR <= copy) fail both.

metadata.json records what `reducio eval export-vae` measured over 64 clips
(`beats_content_copy`, `uses_latent`). Weights exported *without* those properties (a
below-target interim export, announced by the CLIs) are expected to fail (a)/(b): those tests are
then strict xfails, so they turn into errors the moment the weights and their metadata disagree,
and into plain checks once good weights ship. The PSNR recorded in metadata.json is checked in
every case (`test_builtin_tiny_matches_its_metadata`).
"""

from __future__ import annotations

import json

import pytest
import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval import psnr
from reducio.loading.sources import assets_root
from reducio.models.vae import ReducioVAE

ASSET = assets_root() / "vae-tiny"
CLIPS = 4
# Measured for the shipped weights on test clips 0-3 (docs/train-vae.md): the margins below are
# several dB under those values and above what a content-copying model reaches.
MIN_GAIN_OVER_COPY_DB = 2.0  # reconstruction PSNR - content-copy PSNR
MIN_SWAP_GAP_DB = 2.0  # own-latent PSNR - swapped-latent PSNR


def _trained_asset() -> bool:
    if not (ASSET / "diffusion_pytorch_model.safetensors").is_file() or not (ASSET / "config.json").is_file():
        return False
    meta = ASSET / "metadata.json"
    return not meta.is_file() or json.loads(meta.read_text()).get("trained", True) is not False


pytestmark = pytest.mark.skipif(not _trained_asset(),
                                reason="built-in vae-tiny weights not installed or not trained")


@pytest.fixture(scope="module")
def measured() -> dict[str, float]:
    torch.set_num_threads(1)
    vae = ReducioVAE.from_pretrained("tiny").eval()
    clips = torch.stack([
        torch.from_numpy(make_clip(i, "test", size=64, frames=16).video)
        .permute(3, 0, 1, 2).float().div(127.5).sub(1.0)
        for i in range(CLIPS)])  # B 3 T H W in [-1, 1]
    content = clips[:, :, vae.content_frame_index(clips.shape[2])]  # B 3 H W
    with torch.no_grad():
        z = vae.normalize_latent(vae.encode(clips).latent_dist.mode())  # B 16 4 2 2
        own = vae.decode(z, content).sample
        swapped = vae.decode(torch.roll(z, shifts=-1, dims=0), content).sample
    copy = content.unsqueeze(2).expand_as(clips)
    return {"own": psnr(clips, own).mean().item(), "swap": psnr(clips, swapped).mean().item(),
            "copy": psnr(clips, copy).mean().item()}


def _claims(key: str) -> bool:
    """What metadata.json records for test clips 0-3 (the clips these tests measure)."""
    meta = ASSET / "metadata.json"
    return bool(json.loads(meta.read_text()).get(key, True)) if meta.is_file() else True


@pytest.mark.xfail(not _trained_asset() or not _claims("clips_0_3_beat_content_copy"), strict=True,
                   reason="metadata.json says these weights do not beat the content-copy baseline")
def test_builtin_tiny_beats_content_copy(measured):
    assert measured["own"] >= measured["copy"] + MIN_GAIN_OVER_COPY_DB, measured


@pytest.mark.xfail(not _trained_asset() or not _claims("clips_0_3_use_latent"), strict=True,
                   reason="metadata.json says these weights do not use their motion latent yet")
def test_builtin_tiny_uses_its_motion_latent(measured):
    assert measured["own"] >= measured["swap"] + MIN_SWAP_GAP_DB, measured


def test_builtin_tiny_matches_its_metadata():
    """The PSNR recorded at export on test clips 0-3 is what these weights give here: catches
    corrupted, truncated or swapped weight files (tolerance: float rounding across machines)."""
    meta = json.loads((ASSET / "metadata.json").read_text())
    vae = ReducioVAE.from_pretrained("tiny").eval()
    clips = torch.stack([
        torch.from_numpy(make_clip(i, "test", size=64, frames=16).video)
        .permute(3, 0, 1, 2).float().div(127.5).sub(1.0) for i in range(CLIPS)])
    with torch.no_grad():
        recon = vae(clips).sample
    assert abs(psnr(clips, recon).mean().item() - meta["test_psnr_clips_0_3"]) < 0.05, meta


def test_builtin_tiny_metadata_records_quality():
    meta = json.loads((ASSET / "metadata.json").read_text())
    for key in ("steps", "recipe", "command", "test_psnr", "test_ssim", "heldout_psnr",
                "heldout_ssim", "content_copy_psnr", "test_psnr_clips_0_3", "beats_content_copy",
                "uses_latent"):
        assert key in meta, f"metadata.json lacks {key!r}: {sorted(meta)}"
