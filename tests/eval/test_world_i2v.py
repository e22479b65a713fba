"""`reducio eval i2v`'s measurement with stand-in pipelines: a perfect one scores 1 with a control
near 0, one that moves along the axes when asked for diagonals fails direction only."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval.world_i2v import derangement, world_i2v_split


class RenderingPipeline:
    """Returns the world's own clip for a caption (optionally the version-1 clip of the same index)."""

    def __init__(self, split: str, motion: str, count: int, size: int, render_motion: str | None = None):
        self.clips = {make_clip(i, split, size=size, motion=motion).caption:
                      make_clip(i, split, size=size, motion=render_motion or motion) for i in range(count)}

    def __call__(self, image, prompt, *, generator, output_type):
        assert image.shape[0] == 1 and output_type == "pt" and isinstance(generator, torch.Generator)
        video = torch.from_numpy(self.clips[prompt].video).permute(0, 3, 1, 2).float() / 255
        return SimpleNamespace(frames=video[None])  # B T 3 H W in [0, 1], as the pipelines return


def test_a_perfect_pipeline_scores_one_and_the_shuffled_control_stays_low():
    report = world_i2v_split(RenderingPipeline("test", "diagonal", 12, 64), "test:diagonal", 12)
    assert report["motion"] == "diagonal" and report["evaluator_motion"] == "diagonal"
    assert report["accuracy"]["joint"] == 1.0 and report["joint_per_prompt"] == [1] * 12
    assert report["shuffled_control"]["joint"] <= 0.2
    assert all(seen == {d: n} for d, seen in report["seen_by_direction"].items() for n in seen.values())


def test_axis_motion_for_diagonal_prompts_fails_direction_only():
    report = world_i2v_split(RenderingPipeline("test", "diagonal", 10, 64, render_motion="axis"), "test:diagonal", 10)
    accuracy = report["accuracy"]
    assert accuracy["direction"] <= 0.2 and accuracy["joint"] <= 0.2
    assert accuracy["colour"] == 1.0 and accuracy["background"] == 1.0
    seen = {word for counts in report["seen_by_direction"].values() for word in counts}
    assert seen <= {"left", "right", "up", "down", "none"}


def test_derangement_has_no_fixed_point():
    for count in (2, 3, 10, 100):
        permutation = derangement(count)
        assert sorted(permutation) == list(range(count)) and not np.any(permutation == np.arange(count))


def test_the_builtin_pipeline_loads_and_is_judged(tmp_path):
    """The real path: the built-in image-to-video pipeline, with and without a LoRA at scale 0."""
    from reducio.eval.world_i2v import load_i2v_pipeline
    from reducio.training.config import LoRASection
    from reducio.training.lora import add_lora, save_lora

    pipe = load_i2v_pipeline(None)
    plain = world_i2v_split(pipe, "test", 1, steps=2)
    assert set(plain["accuracy"]) >= {"joint", "direction", "colour"}
    add_lora(pipe.transformer, LoRASection(rank=2))
    save_lora(pipe.transformer, tmp_path / "lora")
    with_lora = world_i2v_split(load_i2v_pipeline(None, lora=tmp_path / "lora", lora_scale=0.0), "test", 1, steps=2)
    assert with_lora["accuracy"] == plain["accuracy"]
