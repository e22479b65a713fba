"""`reconstruct` / `encode` read the whole clip by default and say when the built-in VAE gets a real video."""

import shutil

import numpy as np
import pytest

from reducio.cli.vae_io import builtin_vae_note, is_shapes_world_clip
from reducio.cli.main import main
from reducio.data.latent_file import load_latents
from reducio.data.synthetic.export import write_shapes_dataset
from reducio.data.video_io import probe_video, read_comment, write_video


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    write_shapes_dataset(root / "synth", 1, size=64, frames=24, progress=False, verify=False)
    write_shapes_dataset(root / "frames", 1, size=64, frames=16, extension="", progress=False, verify=False)
    (root / "elsewhere").mkdir()
    shutil.copy(root / "synth" / "train_0000000.mp4", root / "elsewhere" / "copied.mp4")
    shutil.copytree(root / "frames" / "train_0000000", root / "elsewhere" / "frames")
    noise = np.random.default_rng(0).integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)  # T H W 3
    write_video(root / "elsewhere" / "clip.mp4", noise, lossless=True)                 # not the world
    return root


def test_the_rule_is_the_clips_tag_or_the_captions_file_beside_it(world):
    assert is_shapes_world_clip(world / "synth" / "train_0000000.mp4")
    assert is_shapes_world_clip(world / "elsewhere" / "copied.mp4")  # the tag travels with the file
    assert is_shapes_world_clip(world / "frames" / "train_0000000")  # a PNG-frame clip: captions.jsonl
    assert not is_shapes_world_clip(world / "elsewhere" / "frames")  # frames keep no tag
    assert not is_shapes_world_clip(world / "elsewhere" / "clip.mp4")
    assert builtin_vae_note("tiny", [world / "synth" / "train_0000000.mp4"]) is None
    assert builtin_vae_note(str(world / "some-vae"), [world / "elsewhere" / "clip.mp4"]) is None  # not built-in
    note = builtin_vae_note("tiny", [world / "synth" / "train_0000000.mp4", world / "elsewhere" / "clip.mp4"])
    assert "1 of 2 inputs" in note and "\n" not in note


def test_reconstruct_reads_the_whole_clip_and_is_quiet_on_shapes_clips(world, tmp_path, capsys):
    out = tmp_path / "r.mp4"
    assert main(["reconstruct", str(world / "synth" / "train_0000000.mp4"), "-o", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "24 frames 64x64" in text and "trained on the synthetic shapes world only" not in text
    assert probe_video(out).num_frames == 24  # 2 windows, the second padded, padding cut off


def test_builtin_vae_on_a_real_video_says_so_with_the_commands(world, tmp_path, capsys):
    assert main(["reconstruct", str(world / "elsewhere" / "clip.mp4"), "-o", str(tmp_path / "r.mp4"),
                 "--frames", "8", "--start", "0.5", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    [line] = [line for line in text.splitlines() if "shapes world only" in line]
    assert ("hf download microsoft/Reducio-VAE reducio-ft4-fs32-attn23.ckpt --local-dir checkpoints" in line
            and "reducio convert checkpoints/reducio-ft4-fs32-attn23.ckpt -o models/reducio-vae-ft4" in line
            and "--vae models/reducio-vae-ft4" in line)
    assert "8 frames 64x64" in text


def test_encode_takes_every_window_by_default(world, tmp_path, capsys):
    out = tmp_path / "lat.safetensors"
    assert main(["encode", str(world / "elsewhere" / "clip.mp4"), "-o", str(out), "--device", "cpu"]) == 0
    assert "shapes world only" in capsys.readouterr().out
    data = load_latents(out)
    assert data.latent.shape[0] == 2 and data.sources[0]["frames"] == 24


def test_help_says_how_a_partial_window_is_handled(capsys):
    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the whole clip" in text and "repeating its last frame" in text


def test_a_clip_of_the_built_in_text_to_video_pipeline_counts_as_the_world(tmp_path, capsys):
    out = tmp_path / "generated.mp4"
    assert main(["generate", "a red circle moving right on a black background", "-o", str(out),
                 "--steps", "2", "--stage1-steps", "2"]) == 0
    assert is_shapes_world_clip(out)
    capsys.readouterr()
    assert main(["reconstruct", str(out), "-o", str(tmp_path / "r.mp4"), "--device", "cpu"]) == 0
    assert "shapes world only" not in capsys.readouterr().out
