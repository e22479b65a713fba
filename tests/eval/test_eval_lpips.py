"""LPIPS written in torch: properties with random weights, the weight-file layouts, error paths."""

from __future__ import annotations

import zipfile

import pytest
import torch

from reducio.errors import CheckpointError, ConfigError, ModelNotFoundError, UnsafeCheckpointError
from reducio.eval.lpips import LPIPS, lpips_video


def _random_lpips_state(net: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A full state dict in the lpips package's naming, with random weights (lin weights >= 0,
    as trained LPIPS lin layers are)."""
    torch.manual_seed(seed)
    model = LPIPS(net)
    state = model.state_dict()
    for key in state:
        if key.startswith("lin"):
            state[key] = state[key].abs()
    return state


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lpips")
    state = _random_lpips_state("vgg")
    torch.save(state, folder / "full.pth")
    # The lpips package's vgg.pth holds only the lin layers; torchvision's vgg16 file the features.
    torch.save({k: v for k, v in state.items() if k.startswith("lin")}, folder / "vgg.pth")
    # net.slice{k}.{i}.weight -> features.{i}.weight
    torchvision_style = {"features." + k.split(".", 2)[2]: v for k, v in state.items() if k.startswith("net.")}
    torchvision_style["classifier.0.weight"] = torch.zeros(4, 4)  # ignored
    torch.save(torchvision_style, folder / "vgg16.pth")
    return folder


def test_identical_images_give_zero_and_distance_is_symmetric(vgg_files):
    model = LPIPS.from_pretrained(vgg_files / "full.pth")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    y = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    d = model(x, y)
    assert d.shape == (3,)
    assert torch.allclose(model(x, x), torch.zeros(3), atol=1e-6)
    assert torch.allclose(d, model(y, x), atol=1e-6)
    assert (d > 0).all()
    # More distortion, larger distance (with non-negative lin weights).
    assert (model(x, (x + 0.5 * (y - x))) < d).all()


def test_lin_file_plus_torchvision_backbone_equals_full_state_dict(vgg_files):
    full = LPIPS.from_pretrained(vgg_files / "full.pth")
    split = LPIPS.from_pretrained(vgg_files / "vgg.pth", backbone_path=vgg_files / "vgg16.pth")
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(2, 2, 3, 48, 48, generator=g) * 2 - 1
    assert torch.equal(full(x, y), split(x, y))


def test_taming_and_official_checkpoint_prefixes_load(vgg_files, tmp_path):
    state = torch.load(vgg_files / "full.pth", weights_only=True)
    nested = {"state_dict": {f"loss.perceptual_loss.{k}": v for k, v in state.items()}}
    torch.save(nested, tmp_path / "official_like.ckpt")
    model = LPIPS.from_pretrained(tmp_path / "official_like.ckpt")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.equal(model(x, -x), LPIPS.from_pretrained(vgg_files / "full.pth")(x, -x))


def test_video_helper_averages_frames(vgg_files):
    model = LPIPS.from_pretrained(vgg_files / "full.pth")
    g = torch.Generator().manual_seed(3)
    a = torch.rand(2, 3, 4, 32, 32, generator=g) * 2 - 1
    b = torch.rand(2, 3, 4, 32, 32, generator=g) * 2 - 1
    per_clip = lpips_video(model, a, b, chunk=3)
    assert per_clip.shape == (2,)
    frame_values = model(a[1].permute(1, 0, 2, 3), b[1].permute(1, 0, 2, 3))
    assert per_clip[1] == pytest.approx(float(frame_values.mean()), abs=1e-6)
    assert torch.allclose(lpips_video(model, a, a), torch.zeros(2), atol=1e-6)


def test_alexnet_variant(tmp_path):
    torch.save(_random_lpips_state("alex"), tmp_path / "alex_full.pth")
    model = LPIPS.from_pretrained(tmp_path / "alex_full.pth", net="alex")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert model(x, x.flip(-1)).shape == (2,)
    assert torch.allclose(model(x, x), torch.zeros(2), atol=1e-6)


def test_missing_file_names_what_to_provide(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"vgg\.pth.*PerceptualSimilarity"):
        LPIPS.from_pretrained(tmp_path / "nope.pth")


def test_lin_layers_without_backbone_name_the_backbone_file(vgg_files):
    with pytest.raises(CheckpointError, match=r"missing: net\.slice1.*vgg16-397923af\.pth"):
        LPIPS.from_pretrained(vgg_files / "vgg.pth")


def test_torchscript_archive_is_refused(tmp_path):
    path = tmp_path / "lpips_ts.pt"
    with zipfile.ZipFile(path, "w") as archive:  # the layout torch.jit.save writes
        archive.writestr("lpips_ts/constants.pkl", b"")
        archive.writestr("lpips_ts/code/__torch__/m.py", "def forward(self): ...")
        archive.writestr("lpips_ts/data.pkl", b"")
    with pytest.raises(UnsafeCheckpointError, match="TorchScript"):
        LPIPS.from_pretrained(path)


def test_unknown_backbone_is_a_config_error():
    with pytest.raises(ConfigError, match="vgg, alex"):
        LPIPS("squeeze")
