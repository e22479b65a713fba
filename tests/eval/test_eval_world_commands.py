"""`reducio eval pipeline`, `eval vae` and `eval stage1` on tiny inputs: the report's keys, that the
options reach the measurement, and the numbers' relations that must hold whatever the weights."""

from __future__ import annotations

import json
import re

import pytest
import torch

from reducio.cli.main import build_parser, load_command, main
from reducio.data.synthetic.vocab import parse_caption
from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError
from reducio.eval.stage1_world import world_frames
from reducio.eval.pipeline_world import control_permutation
from reducio.pipelines import ReducioStage1Generator, Stage1Config


def run_cli(argv):
    args = build_parser().parse_args(list(map(str, argv)))
    return load_command(args).run(args)


def test_eval_pipeline_writes_the_report_and_follows_its_options(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert run_cli(["eval", "pipeline", "--splits", "test", "--count", "2", "--steps", "1", "--seed", "5",
                    "--threads", "1", "-o", out]) == 0
    report = json.loads(out.read_text())
    assert {k: report[k] for k in ("pipeline", "image_to_video", "steps", "seed", "size")} == {
        "pipeline": "builtin", "image_to_video": False, "steps": 1, "seed": 5, "size": 64}
    result = report["splits"]["test"]
    assert result["prompts"] == 2 and len(result["joint_per_prompt"]) == 2
    assert set(result) >= {"accuracy", "shuffled_control", "by_object_count", "seconds_per_video"}
    assert result["accuracy"]["joint"] == sum(result["joint_per_prompt"]) / 2
    assert "test: joint" in capsys.readouterr().out


def test_eval_pipeline_image_to_video_counts_where_each_object_of_a_pair_went(tmp_path, capsys):
    # test clips 0-6 hold one pair whose objects move different ways (clip 6)
    pairs = [c.scene.objects for c in (make_clip(i, "test") for i in range(7))]
    moving_apart = sum(len(p) == 2 and p[0].direction != p[1].direction for p in pairs)
    assert moving_apart == 1
    out = tmp_path / "i2v.json"
    assert run_cli(["eval", "pipeline", "--image-to-video", "--splits", "test", "--count", "7",
                    "--steps", "2", "-o", out]) == 0
    result = json.loads(out.read_text())["splits"]["test"]
    motion = result["two_object_motion"]
    assert motion["objects"] == 2 * moving_apart == sum(v for k, v in motion.items() if k != "objects")
    assert "two objects moving different ways, each object's motion: right" in capsys.readouterr().out


def test_eval_pipeline_passes_the_image_guidance_to_the_video_stage(tmp_path, monkeypatch):
    from reducio.pipelines import ReducioImageToVideoPipeline

    seen = []
    call = ReducioImageToVideoPipeline.__call__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("image_guidance_scale"))
        return call(self, *args, **kwargs)

    monkeypatch.setattr(ReducioImageToVideoPipeline, "__call__", spy)
    out = tmp_path / "i2v.json"
    assert run_cli(["eval", "pipeline", "--image-to-video", "--splits", "test", "--count", "2", "--steps", "1",
                    "--image-guidance", "2.5", "-o", out]) == 0
    assert seen == [2.5, 2.5] and json.loads(out.read_text())["image_guidance"] == 2.5
    with pytest.raises(SystemExit) as refused:
        main(["eval", "pipeline", "--image-guidance", "nan", "-o", str(out)])
    assert refused.value.code == 2


def test_eval_pipeline_refuses_candidates_without_stage1(tmp_path):
    with pytest.raises(ConfigError, match="--image-to-video has no stage 1"):
        run_cli(["eval", "pipeline", "--image-to-video", "--stage1-candidates", "2", "-o", tmp_path / "p.json"])
    assert main(["eval", "pipeline", "--splits", "nosuch", "-o", str(tmp_path / "p.json")]) == 1


def test_control_permutation_has_no_fixed_point_for_the_counts_measured():
    for count in (3, 20, 40, 50, 64, 80, 100, 160, 200):
        permutation = control_permutation(count)
        assert sorted(permutation) == list(range(count)) and all(permutation != range(count))


def test_eval_vae_reports_the_baselines(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert run_cli(["eval", "vae", "--splits", "test", "--count", "2", "-o", out]) == 0
    result = json.loads(out.read_text())["test"]
    assert result["clips"] == 2
    assert result["swap_gap_db"] == pytest.approx(result["psnr"] - result["swap_psnr"])
    assert result["psnr_min"] <= result["psnr"]
    assert 0 < result["flat_fraction"] < 1 and result["prompt_following"]["accuracy"]
    assert sum(v["clips"] for v in result["by_background"].values()) == 2
    assert capsys.readouterr().out.startswith("test {")


@pytest.fixture(scope="module")
def stage1_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("stage1") / "stage1"
    ReducioStage1Generator(Stage1Config.preset("tiny-image")).save_pretrained(folder)
    return folder


def test_eval_stage1_prints_errors_and_accuracies(stage1_dir, capsys):
    assert run_cli(["eval", "stage1", "--stage1", stage1_dir, "--count", "2", "--sigmas", "0.5", "1",
                    "--guidance", "1", "2", "--steps", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("x0 MSE per sigma (2 test frames; per-frame mean colour: ")
    assert [line.split(":")[0].strip() for line in lines[1:3]] == ["sigma 0.500", "sigma 1.000"]
    assert [line.split(":")[0] for line in lines[3::2]] == ["sampler default, guidance 1", "sampler default, guidance 2"]
    for line in lines[3::2]:
        scores = dict(part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", "))
        assert set(scores) == {"background", "colour", "shape", "object_count", "joint"}
        assert float(scores["joint"]) <= min(float(v) for v in scores.values())
    objects = [obj for caption in world_frames(2, "test")[0] for obj in parse_caption(caption).objects]
    for line in lines[4::2]:   # each asked-for object counted once, by the shape the model drew
        assert line.startswith("  shapes drawn: ")
        drawn = dict(part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", "))
        assert sum(int(n) for n in drawn.values()) == len(objects)
        assert all(re.fullmatch(r"(circle|square|triangle) on (black|white|gray) -> (circle|square|triangle|missing)", key)
                   for key in drawn)


def test_eval_export_vae_saves_the_model_with_its_measurements(tmp_path, capsys):
    from reducio.models.vae import ReducioVAE, VAEConfig

    torch.manual_seed(0)
    ReducioVAE(VAEConfig.preset("tiny")).save_pretrained(tmp_path / "trained")
    out = tmp_path / "exported"
    assert run_cli(["eval", "export-vae", "--vae", tmp_path / "trained", "--command", "reducio train vae ...",
                    "--steps", "7", "--count", "1", "-o", out]) == 0
    metadata = json.loads((out / "metadata.json").read_text())
    assert (metadata["steps"], metadata["command"], metadata["trained"]) == (7, "reducio train vae ...", True)
    assert metadata["uses_latent"] == (metadata["test_swap_gap_db"] >= 2.0)
    assert ReducioVAE.from_pretrained(out).dtype == torch.float32  # fp16 on disk, fp32 when loaded
    assert json.loads(capsys.readouterr().out)["test_psnr"] == metadata["test_psnr"]
    with pytest.raises(ConfigError, match="--vae needs --command"):
        run_cli(["eval", "export-vae", "--vae", tmp_path / "trained", "-o", tmp_path / "x"])
    with pytest.raises(ConfigError, match="no checkpoints in"):
        run_cli(["eval", "export-vae", "--run", tmp_path / "norun", "-o", tmp_path / "x"])
