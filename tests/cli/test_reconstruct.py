"""`reducio reconstruct / encode / decode` end to end on a tiny VAE and a synthetic clip."""

import re

import pytest
import torch

from reducio.cli.main import build_parser, load_command
from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import read_video, write_video
from reducio.errors import ReducioError, VideoReadError
from reducio.eval.reconstruction import psnr
from reducio.models.vae import ReducioVAE, VAEConfig


def run_cli(argv):
    args = build_parser().parse_args(list(map(str, argv)))
    return load_command(args).run(args)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    ReducioVAE(VAEConfig.preset("tiny")).save_pretrained(root / "vae")
    for i in range(2):
        write_video(root / "clips" / f"clip{i}.mp4", make_clip(i, size=64, frames=16).video, lossless=True)
    return root


def test_reconstruct_writes_video_and_prints_scores(assets, tmp_path, capsys):
    out = tmp_path / "recon.mkv"
    code = run_cli(["reconstruct", str(assets / "clips" / "clip0.mp4"), "-o", str(out),
                                 "--vae", str(assets / "vae"), "--size", "64", "--lossless"])
    assert code == 0
    text = capsys.readouterr().out
    recon = read_video(out)
    original = read_video(assets / "clips" / "clip0.mp4")
    assert recon.shape == original.shape == (3, 16, 64, 64)
    printed = float(re.search(r"PSNR ([\d.]+) dB", text).group(1))
    assert printed == pytest.approx(float(psnr(recon, original)), abs=0.05)  # lossless write: 8-bit rounding only
    assert "SSIM" in text and "4,096x fewer positions, 768x fewer values" in text
    assert "WARNING" not in text


def test_reconstruct_folder_side_by_side_and_random_weights_notice(assets, tmp_path, capsys):
    (assets / "vae" / "metadata.json").write_text('{"trained": false}')
    try:
        code = run_cli(["reconstruct", str(assets / "clips"), "-o", str(tmp_path / "out"),
                                     "--vae", str(assets / "vae"), "--size", "64", "--side-by-side",
                                     "--frames", "8", "--fps", "16"])
    finally:
        (assets / "vae" / "metadata.json").unlink()
    assert code == 0
    text = capsys.readouterr().out
    assert "random (untrained) weights" in text
    assert "2 clip(s)" in text
    for i in range(2):
        video = read_video(tmp_path / "out" / f"clip{i}.mp4")
        assert video.shape == (3, 8, 64, 64 * 2 + 4)  # input | gap | reconstruction


def test_encode_then_decode_matches_reconstruct(assets, tmp_path, capsys):
    clip = str(assets / "clips" / "clip1.mp4")
    vae = str(assets / "vae")
    run_cli(["reconstruct", clip, "-o", str(tmp_path / "rec.mkv"), "--vae", vae, "--lossless"])
    assert run_cli(["encode", clip, "-o", str(tmp_path / "lat.safetensors"), "--vae", vae]) == 0
    assert "1 window(s) of 1 clip(s)" in capsys.readouterr().out
    assert run_cli(["decode", str(tmp_path / "lat.safetensors"), "-o", str(tmp_path / "dec.mkv"),
                            "--lossless"]) == 0  # the VAE recorded in the file
    rec = read_video(tmp_path / "rec.mkv")
    dec = read_video(tmp_path / "dec.mkv")
    levels = ((rec - dec).abs() * 127.5).max()
    assert levels <= 2  # only the float16 content frame and 8-bit rounding differ


def test_errors_name_the_file(assets, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoReadError, match=r"bad\.mp4"):
        run_cli(["reconstruct", str(bad), "-o", str(tmp_path / "o.mp4"), "--vae", str(assets / "vae")])
    with pytest.raises(ReducioError, match="multiple of 32"):
        run_cli(["reconstruct", str(assets / "clips" / "clip0.mp4"), "-o", str(tmp_path / "o.mp4"),
                              "--vae", str(assets / "vae"), "--size", "50"])
    with pytest.raises(VideoReadError, match="too short"):
        run_cli(["encode", str(assets / "clips" / "clip0.mp4"), "-o", str(tmp_path / "l.safetensors"),
                         "--vae", str(assets / "vae"), "--frames", "32"])


@pytest.mark.parametrize("command, out", [("reconstruct", "out"), ("encode", "l.safetensors")])
def test_a_broken_input_fails_before_the_model_loads_and_before_any_clip(assets, tmp_path, capsys, command, out):
    """A good clip and a truncated one: the error comes first, with nothing written and no VAE note."""
    good = assets / "clips" / "clip0.mp4"
    broken = tmp_path / "z-broken.mp4"
    broken.write_bytes(good.read_bytes()[:300])
    with pytest.raises(VideoReadError, match=r"z-broken\.mp4: cannot open as a video"):
        run_cli([command, str(good), str(broken), "-o", str(tmp_path / out), "--vae", "tiny"])
    assert not (tmp_path / out).exists()
    assert "WARNING" not in capsys.readouterr().out
