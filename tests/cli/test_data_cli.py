import json

import numpy as np

from reducio.cli.main import build_parser, load_command
from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import read_video


def run_cli(argv):
    args = build_parser().parse_args(list(map(str, argv)))
    return load_command(args).run(args)


def test_synth_writes_lossless_clips_and_captions(tmp_path, capsys):
    out = tmp_path / "shapes"
    assert run_cli(["data", "synth", "--count", "3", "--size", "32", "--frames", "8", "--split", "test",
                    "--seed-offset", "10", "-o", str(out)]) == 0
    assert "decoded pixels within 0 levels" in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == [10, 11, 12]
    clip = make_clip(11, "test", size=32, frames=8)
    assert records[1]["caption"] == clip.caption
    video = read_video(out / records[1]["path"])
    assert np.array_equal(((video + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy(), clip.video)


def test_probe(tmp_path, capsys):
    run_cli(["data", "synth", "--count", "1", "--size", "32", "--frames", "8", "-o", str(tmp_path), "--format", "mkv"])
    capsys.readouterr()
    assert run_cli(["data", "probe", str(tmp_path / "*.mkv")]) == 0
    assert "32x32, 8 frames, 16.000 fps" in capsys.readouterr().out
