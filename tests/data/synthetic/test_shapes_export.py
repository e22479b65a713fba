import json

import numpy as np

from reducio.data.synthetic.export import write_shapes_dataset
from reducio.data.synthetic.world import ShapesScene, make_clip
from reducio.data.video_io import read_video


def test_written_files_decode_to_the_rendered_pixels(tmp_path):
    report = write_shapes_dataset(tmp_path, count=3, split="heldout", size=64, frames=8, start=5, progress=False)
    assert report.max_abs_error == 0
    lines = [json.loads(line) for line in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert [r["path"] for r in lines] == ["heldout_0000005.mp4", "heldout_0000006.mp4", "heldout_0000007.mp4"]
    for record in lines:
        clip = make_clip(record["index"], "heldout", size=64, frames=8)
        assert record["caption"] == clip.caption and record["seed"] == clip.seed
        assert ShapesScene.from_dict(record["scene"]) == clip.scene
        video = read_video(tmp_path / record["path"])
        pixels = ((video + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy()
        assert np.array_equal(pixels, clip.video)


def test_lossy_export_reports_its_error(tmp_path):
    report = write_shapes_dataset(tmp_path, count=1, size=64, frames=8, lossless=False, progress=False)
    assert report.max_abs_error > 2
