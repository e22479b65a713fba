"""`reducio data probe`: frame rate, frame count, size and duration of video files."""

from __future__ import annotations

import argparse

from reducio.data.video_io import expand_inputs, probe_video


def run(args: argparse.Namespace) -> int:
    for path in expand_inputs(args.inputs):
        info = probe_video(path)
        print(f"{path}: {info.width}x{info.height}, {info.num_frames} frames, {info.fps:.3f} fps, "
              f"{info.duration:.2f} s")
    return 0

