"""`reducio edit` and `reducio transfer` end to end on a random tiny VAE and world clips."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from reducio.cli.main import build_parser, load_command, main
from reducio.data.synthetic.world import make_clip
from reducio.data.transforms import unit_to_uint8
from reducio.data.video_io import read_video, write_video
from reducio.errors import ConfigError, OutputPathError, PipelineInputError, VideoReadError
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.pipelines.edit import ReducioEditPipeline


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("edit")
    torch.manual_seed(0)
    ReducioVAE(VAEConfig.preset("tiny")).save_pretrained(root / "vae")
    for i in range(2):
        write_video(root / f"clip{i}.mp4", make_clip(i, size=64, frames=16).video, lossless=True)
    write_video(root / "long.mp4", make_clip(2, size=64, frames=24).video, lossless=True)
    return root


def cli(*argv) -> int:
    return main(list(map(str, argv)))


def reference(assets, name: str, frame: torch.Tensor | None = None) -> torch.Tensor:
    """The pipeline's output for a clip file, as the uint8 frames (T, H, W, 3) a lossless file holds."""
    pipe = ReducioEditPipeline.from_pretrained(assets / "vae")
    pipe.set_progress_bar_config(disable=True)
    video = read_video(assets / name)
    out = pipe(video[None], None if frame is None else frame[None]).frames[0].permute(1, 0, 2, 3) * 2 - 1
    return unit_to_uint8(out).permute(1, 2, 3, 0)


def frames_of(path) -> torch.Tensor:
    return unit_to_uint8(read_video(path)).permute(1, 2, 3, 0)                         # T H W 3


def test_export_then_edit_with_the_unchanged_frame_is_the_reconstruction(assets, tmp_path, capsys):
    frame = tmp_path / "frame.png"
    assert cli("edit", assets / "clip0.mp4", "--export-frame", frame, "--vae", assets / "vae") == 0
    assert "wrote frame 7" in capsys.readouterr().out
    exported = np.array(Image.open(frame))
    assert exported.shape == (64, 64, 3)
    assert np.array_equal(exported, make_clip(0, size=64).video[7])
    out = tmp_path / "edited.mkv"
    assert cli("edit", assets / "clip0.mp4", "--frame", frame, "-o", out, "--vae", assets / "vae", "--lossless") == 0
    assert "motion decoded around the edited frame 7" in capsys.readouterr().out
    assert torch.equal(frames_of(out), reference(assets, "clip0.mp4"))


def test_edit_with_a_changed_frame_long_clip_and_side_by_side(assets, tmp_path, capsys):
    edited = make_clip(2, size=64, frames=24).video[7].copy()
    edited[..., 0] = 255 - edited[..., 0]
    Image.fromarray(edited).save(tmp_path / "edited.png")
    out = tmp_path / "out.mkv"
    assert cli("edit", assets / "long.mp4", "--frame", tmp_path / "edited.png", "-o", out,
               "--vae", assets / "vae", "--lossless", "--side-by-side") == 0
    assert "24 frames 64x64" in capsys.readouterr().out
    result = frames_of(out)
    assert result.shape == (24, 64, 64 * 2 + 4, 3)
    frame = torch.from_numpy(edited).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.equal(result[:, :, -64:], reference(assets, "long.mp4", frame))


def test_edited_frame_of_another_size(assets, tmp_path, caplog):
    Image.fromarray(make_clip(0, size=128).video[7]).save(tmp_path / "big.png")
    with caplog.at_level(logging.WARNING):
        assert cli("edit", assets / "clip0.mp4", "--frame", tmp_path / "big.png", "-o", tmp_path / "a.mp4",
                   "--vae", assets / "vae") == 0
    assert "resized to 64x64" in caplog.text
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(tmp_path / "wide.png")
    with pytest.raises(PipelineInputError, match="`--frame` is 64x96 .* clip is 64x64"):
        _run(assets, "edit", assets / "clip0.mp4", "--frame", tmp_path / "wide.png", "-o", tmp_path / "b.mp4")
    assert not (tmp_path / "b.mp4").exists()


def _run(assets, *argv):
    """Run a command through its module (errors raised, not printed)."""
    args = build_parser().parse_args([*map(str, argv), "--vae", str(assets / "vae")])
    return load_command(args).run(args)


def test_frame_errors_are_named(assets, tmp_path, capsys):
    with pytest.raises(VideoReadError, match=r"--frame .*clip1.mp4: not an image"):
        _run(assets, "edit", assets / "clip0.mp4", "--frame", assets / "clip1.mp4", "-o", tmp_path / "x.mp4")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(VideoReadError, match="--frame: .*broken.png"):
        _run(assets, "edit", assets / "clip0.mp4", "--frame", tmp_path / "broken.png", "-o", tmp_path / "x.mp4")
    assert cli("edit", assets / "clip0.mp4", "--frame", tmp_path / "missing.png", "-o", tmp_path / "x.mp4") == 1
    assert "missing.png" in capsys.readouterr().err


def test_output_paths_are_checked_before_any_work(assets, tmp_path):
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(OutputPathError, match="existing folder"):  # the clip is not even read
        _run(assets, "edit", tmp_path / "missing.mkv", "--frame", tmp_path / "missing.png",
             "-o", tmp_path / "folder.mp4")
    with pytest.raises(OutputPathError, match="--export-frame .*must end in"):
        _run(assets, "edit", tmp_path / "missing.mkv", "--export-frame", tmp_path / "frame.mp4")
    with pytest.raises(ConfigError, match="--frame needs -o"):
        _run(assets, "edit", tmp_path / "missing.mkv", "--frame", tmp_path / "missing.png")
    with pytest.raises(ConfigError, match="drop -o"):
        _run(assets, "edit", tmp_path / "missing.mkv", "--export-frame", tmp_path / "f.png", "-o", tmp_path / "x.mp4")
    with pytest.raises(OutputPathError):
        _run(assets, "transfer", "--motion", tmp_path / "missing.mkv", "--content", tmp_path / "missing.png",
             "-o", tmp_path / "out.txt")


def test_transfer_with_own_frame_is_the_reconstruction_and_another_frame_works(assets, tmp_path, capsys):
    Image.fromarray(make_clip(0, size=64).video[7]).save(tmp_path / "own.png")
    out = tmp_path / "own.mkv"
    assert cli("transfer", "--motion", assets / "clip0.mp4", "--content", tmp_path / "own.png", "-o", out,
               "--vae", assets / "vae", "--lossless") == 0
    assert torch.equal(frames_of(out), reference(assets, "clip0.mp4"))
    other = tmp_path / "other.mkv"  # content from another video: its frame 7
    assert cli("transfer", "--motion", assets / "clip0.mp4", "--content", assets / "clip1.mp4", "-o", other,
               "--vae", assets / "vae", "--lossless", "--side-by-side") == 0
    assert "(content, frame 7)" in capsys.readouterr().out
    result = frames_of(other)
    assert result.shape == (16, 64, 3 * 64 + 8, 3)
    frame = read_video(assets / "clip1.mp4")[:, 7]
    assert torch.equal(result[:, :, -64:], reference(assets, "clip0.mp4", frame))
    assert torch.equal(result[:, :, 68:132], unit_to_uint8(frame).permute(1, 2, 0).expand(16, -1, -1, -1))
