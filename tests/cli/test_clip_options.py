"""--frames and --start of the commands that read clips: the output follows the part of the clip
they pick (built-in tiny VAE on a 32-frame shapes-world clip, lossless files)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from reducio.cli.main import build_parser, load_command
from reducio.data.latent_file import load_latents
from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import read_video, write_video
from reducio.eval.reconstruction import psnr


def run_cli(argv):
    args = build_parser().parse_args(list(map(str, argv)))
    return load_command(args).run(args)


@pytest.fixture(scope="module")
def clip32(tmp_path_factory):
    """(path, frames (32, 64, 64, 3) uint8) of a 32-frame world clip written losslessly at 16 fps."""
    folder = tmp_path_factory.mktemp("clip32")
    frames = make_clip(3, "test", frames=32).video
    write_video(folder / "clip.mkv", frames, fps=16, lossless=True)
    return folder / "clip.mkv", frames


def _video(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1               # 3 T H W


def test_reconstruct_frames_and_start_pick_the_second_window(clip32, tmp_path):
    path, frames = clip32
    out = tmp_path / "out.mkv"
    assert run_cli(["reconstruct", path, "--frames", 16, "--start", 1.0, "--lossless", "--device", "cpu",
                    "-o", out]) == 0
    recon = read_video(out)
    assert recon.shape == (3, 16, 64, 64)
    second, first = float(psnr(recon, _video(frames[16:]))), float(psnr(recon, _video(frames[:16])))
    assert second >= 25.0 and second > first + 5.0, (second, first)


def test_encode_frames_and_start_store_that_windows_content_frame(clip32, tmp_path):
    path, frames = clip32
    out = tmp_path / "latents.safetensors"
    assert run_cli(["encode", path, "--frames", 16, "--start", 1.0, "--device", "cpu", "-o", out]) == 0
    data = load_latents(out)
    assert data.latent.shape[0] == 1 and data.sources[0]["frames"] == 16 and data.sources[0]["start"] == 1.0
    content = data.content[0].float()                                                      # 3 H W
    expected = _video(frames[16 + 7:16 + 8])[:, 0]
    assert (content - expected).abs().max() <= 1 / 127.5 + 1e-6
    assert run_cli(["encode", path, "--device", "cpu", "-o", tmp_path / "all.safetensors"]) == 0
    assert load_latents(tmp_path / "all.safetensors").latent.shape[0] == 2              # the whole clip


def test_edit_export_frame_follows_start(clip32, tmp_path, capsys):
    path, frames = clip32
    assert run_cli(["edit", path, "--start", 1.0, "--export-frame", tmp_path / "f.png", "--device", "cpu"]) == 0
    assert np.array_equal(np.array(Image.open(tmp_path / "f.png")), frames[16 + 7])
    assert "wrote frame 7" in capsys.readouterr().out
