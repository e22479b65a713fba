"""The edit / transfer measurement on the shapes world, the evaluator's per-frame mode, and the
`reducio eval edit / transfer` commands (random tiny VAE: structure, not quality)."""

import json
from dataclasses import replace

import pytest
import torch

from reducio.cli.main import main
from reducio.data.synthetic.render import render
from reducio.data.synthetic.world import make_clip
from reducio.eval.edit_long import bucketed, long_clip_split
from reducio.eval.edit_world import (KINDS, as_video, edit_rng, edit_scene, frame_psnr, measure_clip,
                                     psnr_by_distance)
from reducio.eval.shapes import ShapesEvaluator
from reducio.eval.transfer_world import one_object_clips, target_scene, transfer_world_split
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.pipelines.edit import ReducioEditPipeline
from reducio.pipelines.transfer import ReducioMotionTransferPipeline


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return ReducioVAE(VAEConfig.preset("tiny")).eval()


@pytest.fixture(scope="module")
def pipe(vae):
    pipe = ReducioEditPipeline(vae=vae)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.parametrize("kind", KINDS)
def test_edit_scene_changes_one_attribute_and_keeps_the_motion(kind):
    scene = make_clip(3, "test").scene
    edited, change = edit_scene(scene, kind, edit_rng(scene.seed, kind))
    assert edited == edit_scene(scene, kind, edit_rng(scene.seed, kind))[0]  # drawn from the seed
    assert kind in change or kind == "background"
    if kind == "background":
        assert edited.background != scene.background and edited.objects == scene.objects
    else:
        assert edited.background == scene.background
        changed = [(a, b) for a, b in zip(scene.objects, edited.objects) if a != b]
        assert len(changed) == 1
        before, after = changed[0]
        assert getattr(before, kind) != getattr(after, kind)
        assert replace(after, **{kind: getattr(before, kind)}) == before  # geometry and motion kept
        assert len({o.colour for o in edited.objects}) == len(edited.objects)


def test_per_frame_mode_finds_the_frames_that_break_the_scene():
    clip = make_clip(0, "test")
    evaluator = ShapesEvaluator()
    verdict = evaluator.evaluate_frames(clip.video, clip.caption)
    assert len(verdict.frames) == 16 and verdict.holds() and verdict.fraction() == 1.0
    scene, _ = edit_scene(clip.scene, "colour", edit_rng(clip.seed, "colour"))
    mixed = clip.video.copy()
    mixed[10] = render(scene, [10])[0]  # one frame shows the other colour
    verdict = evaluator.evaluate_frames(mixed, clip.caption)
    assert verdict.failing() == [10] and not verdict.holds("colour") and verdict.holds("background")
    assert verdict.fraction() == pytest.approx(15 / 16)
    assert verdict.to_dict()["failing"] == [10]


def test_psnr_by_distance_pools_both_sides():
    rows = [[float(t) for t in range(16)]]
    table = psnr_by_distance(rows, 7)
    assert table["0"] == 7.0 and table["1"] == 7.0 and table["8"] == 15.0  # (6 + 8) / 2, then frame 15 alone
    assert bucketed({str(d): float(d) for d in range(41)}) == {
        "0": 0.0, "1-4": 2.5, "5-8": 6.5, "9-16": 12.5, "17-24": 20.5, "25-32": 28.5, "33-40": 36.5}
    video = as_video(make_clip(0, "test").video)
    assert frame_psnr(video, video) == [80.0] * 16


def test_measure_clip_records_every_method(pipe):
    records = measure_clip(pipe, ShapesEvaluator(), 0, "test")
    assert [r["kind"] for r in records] == list(KINDS)
    for record in records:
        methods = record["methods"]
        assert set(methods) == {"edit", "paste", "recon", "ceiling", "world"}
        assert methods["world"]["success"]  # the world's own edited clip: the evaluator's ceiling
        assert methods["paste"]["psnr_frames"][7] == 80.0 and not methods["paste"]["direction"]
        assert not methods["recon"]["frames_hold"]  # the unedited clip does not show the edit
        assert len(methods["edit"]["psnr_frames"]) == 16 and -1 <= methods["edit"]["ssim"] <= 1


def test_long_clips_summary_by_distance(pipe):
    result = long_clip_split(pipe, "test", 1, frames=24, kinds=("colour",))
    summary = result["summary"]
    assert summary["clips"] == 1
    assert list(summary["colour"]["edit"]) == [str(d) for d in range(17)]  # |t - 7| up to 16
    assert set(summary["colour"]["holds"].values()) <= {0.0, 1.0}
    assert summary["window_recon"]["0"] == pytest.approx(summary["chained_recon"]["0"])


def test_transfer_pairs_and_target(vae):
    clips = one_object_clips("test", 3)
    assert all(len(c.scene.objects) == 1 for c in clips)
    target = target_scene(clips[0], clips[1], 7)
    if target is not None:
        moved, b = target.objects[0], clips[1].scene.objects[0]
        assert moved.centre(7) == pytest.approx(b.centre(7))
        assert (moved.direction, moved.speed) == (clips[0].scene.objects[0].direction, clips[0].scene.objects[0].speed)
    far = replace(clips[0].scene, objects=(replace(clips[0].scene.objects[0], speed=40.0),))
    assert target_scene(replace(clips[0], scene=far), clips[1], 7) is None  # leaves the frame
    pipe = ReducioMotionTransferPipeline(vae=vae)
    pipe.set_progress_bar_config(disable=True)
    result = transfer_world_split(pipe, "test", 2)
    assert result["summary"]["pairs"] == 2
    assert all(r["a"] != r["b"] for r in result["records"])


def test_eval_commands_write_json_and_markdown(vae, tmp_path, capsys):
    vae.save_pretrained(tmp_path / "vae")
    assert main(["eval", "edit", "--vae", str(tmp_path / "vae"), "--splits", "test", "--count", "1",
                 "--kinds", "colour", "--long-count", "1", "--long-frames", "24", "--threads", "1",
                 "-o", str(tmp_path / "edit")]) == 0
    assert "test: edit PSNR" in capsys.readouterr().out
    report = json.loads((tmp_path / "edit" / "edit.json").read_text())
    assert report["command"].startswith("reducio eval edit --kinds colour")
    assert report["splits"]["test"]["all"]["edit"]["psnr"] > 0
    markdown = (tmp_path / "edit" / "edit.md").read_text()
    assert "| colour | edit |" in markdown and "Long clips, test: 1 clips of 24 frames" in markdown
    assert main(["eval", "transfer", "--vae", str(tmp_path / "vae"), "--splits", "test", "--count", "2",
                 "-o", str(tmp_path / "transfer")]) == 0
    report = json.loads((tmp_path / "transfer" / "transfer.json").read_text())
    assert report["splits"]["test"]["summary"]["pairs"] == 2
    assert "| test | 2 |" in (tmp_path / "transfer" / "transfer.md").read_text()


def test_eval_edit_checks_arguments_before_work(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["eval", "edit", "--splits", "nosuch", "-o", str(tmp_path / "out")]) == 1
    assert "unknown split 'nosuch'" in capsys.readouterr().err
    assert main(["eval", "transfer", "-o", str(tmp_path / "file")]) == 1
    assert "existing file" in capsys.readouterr().err


def test_a_vae_with_another_window_is_refused_by_name():
    """The world clips are 16 frames edited at their content frame 7: an 8-frame-window VAE would
    be judged against the wrong frame, so the 16-frame measurements refuse it."""
    from reducio.errors import ConfigError
    from reducio.eval.edit_world import edit_world_split
    from reducio.eval.transfer_world import transfer_world_split
    from reducio.pipelines import ReducioEditPipeline, ReducioMotionTransferPipeline

    vae = ReducioVAE(VAEConfig.preset("tiny").replace(frames=8))
    for measure, pipe in ((edit_world_split, ReducioEditPipeline(vae=vae)),
                          (transfer_world_split, ReducioMotionTransferPipeline(vae=vae))):
        with pytest.raises(ConfigError, match="edit frame 7 of 16-frame clips, but this VAE's content frame "
                                              "is 3 \\(window 8\\)"):
            measure(pipe, "test", 1)


def test_long_clips_are_edited_at_the_vaes_own_content_frame():
    """A long clip is edited through the content frame of the VAE's first window (3 for 8-frame
    windows): the pasted edited frame is exact there and the distances count from it."""
    pipe = ReducioEditPipeline(vae=ReducioVAE(VAEConfig.preset("tiny").replace(frames=8)))
    pipe.set_progress_bar_config(disable=True)
    result = long_clip_split(pipe, "test", 1, frames=16, kinds=("colour",))
    (record,) = result["records"]
    assert record["edits"]["colour"]["paste"][3] == 80.0
    assert list(result["summary"]["colour"]["edit"]) == [str(d) for d in range(13)]  # |t - 3| up to 12
