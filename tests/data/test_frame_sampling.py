import pytest

import torch

from reducio.data.sampling import ClipTooShort, select_frames, stride_for


def frames(n, fps, offset=0.0):
    return [(offset + i / fps, i) for i in range(n)]


def test_stride_matches_release_rule():
    assert [stride_for(f, 16) for f in (30, 24, 60, 25, 16, 8)] == [2, 2, 4, 2, 1, 1]
    assert stride_for(30, None) == 1


def test_nearest_handles_variable_frame_rate():
    # irregular timestamps (a VFR file): the frame nearest to each 10 fps target is chosen
    times = [0.0, 0.02, 0.15, 0.31, 0.33, 0.52]
    chosen = list(select_frames([(t, t) for t in times], src_fps=10, num_frames=6, fps=10))
    assert chosen == [0.0, 0.15, 0.15, 0.31, 0.33, 0.52]


def test_nearest_with_late_first_frame():
    chosen = list(select_frames(frames(10, 10, offset=0.03), src_fps=10, num_frames=3, fps=10))
    assert chosen == [0, 1, 2]


def test_too_short_raises_with_count():
    with pytest.raises(ClipTooShort) as info:
        list(select_frames(frames(10, 10), src_fps=10, num_frames=12, fps=10))
    assert info.value.got == 10
    # the last frame covers one frame duration: 10 frames at 10 fps = 1 s -> 20 targets at 20 fps
    assert len(list(select_frames(frames(10, 10), src_fps=10, num_frames=20, fps=20))) == 20
    with pytest.raises(ClipTooShort):
        list(select_frames(frames(10, 10), src_fps=10, num_frames=21, fps=20))


def test_stride_skips_frames_before_start():
    chosen = list(select_frames(frames(30, 30), src_fps=30, num_frames=4, fps=16, start=0.5, sampling="stride"))
    assert chosen == [15, 17, 19, 21]


@pytest.mark.parametrize("suffix, options", [("mkv", {"lossless": True}), ("webm", {}), ("mp4", {})])
def test_millisecond_timestamps_add_no_frame_at_the_end(tmp_path, suffix, options):
    """Matroska and WebM store times in milliseconds (frame 15 of 16 fps at 0.938 s, not 0.9375):
    a 16-frame clip read at its own rate stays 16 frames, and at twice the rate 32."""
    from reducio.data.video_io import read_video, write_video

    video = torch.rand(3, 16, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    path = write_video(tmp_path / f"clip.{suffix}", video, fps=16, **options)
    assert read_video(path, fps=16).shape[1] == 16
    assert read_video(path, fps=32).shape[1] == 32
