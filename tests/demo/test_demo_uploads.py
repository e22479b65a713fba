"""Upload checks and the result folder of the demo (no models, no gradio)."""

from __future__ import annotations

import os
import time

import pytest
import torch

from reducio.demo.uploads import (DemoInputError, Workdir, check_clip, check_frame_size, check_image,
                                  check_upload_size, upload_name, upload_path)

MB = 2**20


def test_upload_path_accepts_paths_and_gradio_payloads(tmp_path):
    f = tmp_path / "a.mp4"
    assert upload_path(str(f), "a clip") == f
    assert upload_path({"path": str(f), "orig_name": "mine.mp4"}, "a clip") == f
    assert upload_name({"path": str(f), "orig_name": "mine.mp4"}) == "mine.mp4"
    assert upload_name(str(f)) == "a.mp4"
    for empty in (None, "", {"path": None}):
        with pytest.raises(DemoInputError, match="upload a clip first"):
            upload_path(empty, "a clip")


def test_size_limit(tmp_path):
    f = tmp_path / "big.mp4"
    f.write_bytes(b"\0" * (2 * MB))
    check_upload_size(f, 3 * MB)
    with pytest.raises(DemoInputError, match="2.0 MB, over this demo's limit of 1 MB"):
        check_upload_size(f, 1 * MB)


def test_clip_checks(demo_files):
    info = check_clip(demo_files["clip"], "clip.mp4", 10 * MB, 10, 2048)
    assert (info.width, info.height, info.num_frames) == (64, 64, 20)
    with pytest.raises(DemoInputError, match=r"lasts 1.2 s, over this demo's limit of 1 s"):
        check_clip(demo_files["clip"], "clip.mp4", 10 * MB, 1, 2048)
    with pytest.raises(DemoInputError, match="64x64 pixels, over this demo's limit of 32 pixels"):
        check_clip(demo_files["clip"], "clip.mp4", 10 * MB, 10, 32)
    with pytest.raises(DemoInputError, match="mine.mp4: cannot open as a video") as error:
        check_clip(demo_files["corrupt"], "mine.mp4", 10 * MB, 10, 2048)
    assert str(demo_files["corrupt"]) not in str(error.value)  # the person's name, not the cache path
    with pytest.raises(DemoInputError, match="not a video this demo reads"):
        check_clip(demo_files["image"], "frame.png", 10 * MB, 10, 2048)


def test_image_checks(demo_files):
    assert check_image(demo_files["image"], "frame.png", MB, 2048).width == 64
    with pytest.raises(DemoInputError, match="frame.png is not a readable image"):
        check_image(demo_files["corrupt_image"], "frame.png", MB, 2048)
    with pytest.raises(DemoInputError, match="not an image"):
        check_image(demo_files["clip"], "clip.mp4", MB, 2048)


def test_frame_shape_check():
    video = torch.zeros(3, 16, 64, 64)
    check_frame_size(torch.zeros(3, 64, 64), video, "e.png")
    check_frame_size(torch.zeros(3, 128, 128), video, "e.png")  # same shape: the pipeline resizes it
    with pytest.raises(DemoInputError, match="e.png is 64x32 pixels but the clip's frames are 64x64"):
        check_frame_size(torch.zeros(3, 32, 64), video, "e.png")


def test_workdir_prunes_old_files_and_cleans_up(tmp_path):
    work = Workdir(max_age_s=60, root=tmp_path)
    old = work.new_file("old")
    old.write_bytes(b"x")
    past = time.time() - 120
    os.utime(old, (past, past))
    new = work.new_file("new")
    assert new.suffix == ".webm" and new != old and not old.exists()
    work.cleanup()
    assert not work.path.exists()
