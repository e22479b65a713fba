import numpy as np
import pytest
import torch

from reducio.data.video_io import read_comment, read_video, side_by_side, write_video
from reducio.errors import ShapeError, VideoWriteError


def test_side_by_side_layout():
    a, b = torch.full((3, 2, 8, 8), -1.0), torch.full((3, 2, 8, 6), 0.5)
    out = side_by_side(a, b, gap=2)
    assert out.shape == (3, 2, 8, 16)
    assert (out[..., :8] == -1).all() and (out[..., 8:10] == 1).all() and (out[..., 10:] == 0.5).all()
    with pytest.raises(ShapeError, match="same T and H"):
        side_by_side(a, torch.zeros(3, 3, 8, 8))


def test_write_errors(tmp_path):
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(VideoWriteError, match=r"\.avi.*use one of"):
        write_video(tmp_path / "x.avi", frames)
    with pytest.raises(VideoWriteError, match="even frame size.*lossless"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 33, 32, 3), np.uint8))
    write_video(tmp_path / "odd.mkv", np.zeros((2, 33, 31, 3), np.uint8), lossless=True)
    with pytest.raises(ShapeError, match="drop the batch dimension"):
        write_video(tmp_path / "b.mp4", torch.zeros(1, 3, 2, 32, 32))


def test_fps_is_stored(tmp_path):
    frames = np.zeros((10, 32, 32, 3), np.uint8)
    path = write_video(tmp_path / "x.mp4", frames, fps=25)
    from reducio.data.video_io import probe_video

    info = probe_video(path)
    assert info.fps == pytest.approx(25) and info.num_frames == 10
    assert read_video(path).shape[1] == 10


def test_a_frame_folder_written_again_holds_only_the_new_clip(tmp_path):
    folder = tmp_path / "frames"
    write_video(folder, np.full((24, 32, 32, 3), 10, np.uint8))
    (folder / "notes.txt").write_text("mine")
    write_video(folder, np.full((16, 32, 32, 3), 200, np.uint8))
    video = read_video(folder)                                        # 3 T H W in [-1, 1]
    assert video.shape[1] == 16 and (video > 0.5).all()
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_comment_is_stored_in_containers_that_keep_one(tmp_path):
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    for suffix in (".mp4", ".mkv", ".webm"):
        assert read_comment(write_video(tmp_path / f"c{suffix}", frames, comment="made here")) == "made here"
    assert read_comment(write_video(tmp_path / "plain.mp4", frames)) is None
    assert read_comment(write_video(tmp_path / "c.gif", frames, comment="made here")) is None
    assert read_comment(tmp_path / "missing.mp4") is None
