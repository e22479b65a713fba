"""The shapes-world evaluator on clips of the real generator: accepts their captions, rejects
captions with one attribute changed, works on decoded files, and is at chance on shuffled pairs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reducio.data.synthetic.vocab import (
    BACKGROUNDS,
    COLOURS,
    DIRECTIONS,
    SHAPES,
    CaptionError,
    ObjectSpec,
    SceneSpec,
)
from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError, ShapeError
from reducio.eval.shapes import (
    MotionBinding,
    SceneDescription,
    ShapeConfusion,
    ShapesAccuracy,
    ShapesEvaluator,
    clip_pixels,
    judge,
)
from reducio.eval.shapes_detect import DetectedObject, ShapesEvaluatorConfig, largest_components


@pytest.fixture(scope="module")
def evaluator() -> ShapesEvaluator:
    return ShapesEvaluator()


def _clips(size: int, count: int, splits=("test", "heldout")):
    return [make_clip(i, split, size=size) for split in splits for i in range(count)]


def _accept_rate(clips, descriptions) -> tuple[float, list]:
    verdicts = [judge(d, c.scene.spec) for c, d in zip(clips, descriptions)]
    failures = [(c.caption, v.description.caption()) for c, v in zip(clips, verdicts) if not v.joint]
    return 1 - len(failures) / len(clips), failures


# Clips and what the evaluator sees in them, read once per module (evaluate = judge(describe)).
_SETS = {32: 30, 64: 25, 128: 6}  # clips per split (test, heldout)


@pytest.fixture(scope="module")
def described(evaluator):
    cache = {}

    def get(size):
        if size not in cache:
            clips = _clips(size, _SETS[size])
            cache[size] = (clips, [evaluator.describe(c.video) for c in clips])
        return cache[size]

    return get


@pytest.mark.parametrize("size", [32, 64, 128])
def test_accepts_generator_clips_with_their_captions(described, size):
    rate, failures = _accept_rate(*described(size))
    assert rate >= 0.98, failures


@pytest.mark.slow
@pytest.mark.parametrize("size", [32, 64, 128])
def test_accepts_generator_clips_many(evaluator, size):
    clips = _clips(size, 300, ("train", "test", "heldout"))
    rate, failures = _accept_rate(clips, [evaluator.describe(c.video) for c in clips])
    assert rate >= 0.98, failures


def _change(scene: SceneSpec, kind: str) -> SceneSpec:
    """The scene with one attribute of the first object (or the background) changed."""
    first = scene.objects[0]
    if kind == "background":
        other = next(b for b in BACKGROUNDS if b != scene.background)
        return dataclasses.replace(scene, background=other)
    if kind == "colour":
        used = {o.colour for o in scene.objects}
        changed = dataclasses.replace(first, colour=next(c for c in COLOURS if c not in used))
    elif kind == "shape":
        changed = dataclasses.replace(first, shape=next(s for s in SHAPES if s != first.shape))
    else:
        changed = dataclasses.replace(first, direction=next(d for d in DIRECTIONS if d != first.direction))
    return dataclasses.replace(scene, objects=(changed, *scene.objects[1:]))


@pytest.mark.parametrize("kind", ["colour", "shape", "direction", "background"])
def test_rejects_a_caption_with_one_attribute_changed(described, kind):
    pairs = [(c, d) for c, d in zip(*described(64)) if judge(d, c.scene.spec).joint]
    assert len(pairs) >= 48
    for clip, description in pairs:
        wrong = _change(clip.scene.spec, kind)
        verdict = judge(description, wrong)
        assert not verdict.joint, (clip.caption, wrong.caption())
        assert not getattr(verdict, kind), (clip.caption, wrong.caption())
        # The other attributes are still judged right (a wrong colour is matched by shape/motion).
        for other in {"colour", "shape", "direction", "background"} - {kind}:
            assert getattr(verdict, other), (other, clip.caption, wrong.caption())


def test_rejects_missing_and_extra_objects(described):
    clips, descriptions = described(64)
    two = next(i for i, c in enumerate(clips) if len(c.scene.objects) == 2)
    one_object = SceneSpec(clips[two].scene.spec.objects[:1], clips[two].scene.background)
    verdict = judge(descriptions[two], one_object)
    assert verdict.colour and not verdict.object_count and not verdict.joint
    one = next(i for i, c in enumerate(clips) if len(c.scene.objects) == 1)
    spec = clips[one].scene.spec
    extra = ObjectSpec(next(c for c in COLOURS if c != spec.objects[0].colour), "circle", "left")
    verdict = judge(descriptions[one], SceneSpec((*spec.objects, extra), spec.background))
    assert not verdict.colour and not verdict.object_count and not verdict.joint


def test_describe_reads_back_the_scene(described):
    for clip, description in list(zip(*described(64)))[:10]:
        seen = description.to_scene_spec()
        assert seen is not None
        assert seen.background == clip.scene.background
        assert set(seen.objects) == set(clip.scene.spec.objects)


def _blur_noise_drift(video: np.ndarray, sigma: float, seed: int) -> torch.Tensor:
    """What a generator's output may look like: blurred, noisy, colour-shifted uint8 frames."""
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(video).float().permute(0, 3, 1, 2)  # T 3 H W
    t, c, h, w = x.shape
    r = int(3 * sigma + 0.5)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1).float() / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(F.pad(x.reshape(-1, 1, h, w), (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1)).view(t, c, h, w)
    x = x + torch.tensor([12.0, -10.0, 8.0]).view(1, 3, 1, 1) + 8 * torch.randn(x.shape, generator=g)
    return x.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def test_robust_to_blur_noise_and_colour_drift(evaluator):
    clips = _clips(64, 15)
    verdicts = [evaluator.evaluate(_blur_noise_drift(c.video, 1.0, i), c.caption) for i, c in enumerate(clips)]
    assert np.mean([v.joint for v in verdicts]) >= 0.95


def test_runs_on_decoded_video_files(evaluator, tmp_path):
    from reducio.data.video_io import write_video

    clips = _clips(64, 3)
    for i, clip in enumerate(clips):
        path = tmp_path / f"clip{i}.mp4"
        write_video(path, clip.video, fps=16)  # lossy H.264, yuv420p
        assert evaluator.evaluate(path, clip.caption).joint, clip.caption
        assert not evaluator.evaluate(str(path), _change(clip.scene.spec, "shape")).joint


def test_accepts_uint8_float_and_numpy_clips_alike(evaluator):
    clip = make_clip(3, "test", size=32)
    as_float = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float() / 127.5 - 1  # 3 T H W
    a = evaluator.describe(clip.video).to_dict()
    b = evaluator.describe(torch.from_numpy(clip.video)).to_dict()
    c = evaluator.describe(as_float).to_dict()
    assert a == b
    assert a["caption"] == c["caption"] == clip.caption


def test_bad_inputs_raise(evaluator):
    clip = make_clip(0, "test", size=32)
    with pytest.raises(ShapeError, match=r"\(T, H, W, 3\)"):
        clip_pixels(clip.video[..., :2])
    with pytest.raises(ShapeError, match=r"\(3, T, H, W\)"):
        clip_pixels(torch.zeros(1, 3, 4, 32, 32))
    with pytest.raises(CaptionError, match="grammar"):
        evaluator.evaluate(clip.video, "a red ball going right over black")
    with pytest.raises(ConfigError, match="valid keys"):
        ShapesEvaluatorConfig.from_dict({"colour_treshold": 50})


def test_config_round_trips_through_json(tmp_path):
    config = ShapesEvaluatorConfig(colour_threshold=45.0)
    config.to_json(tmp_path / "c.json")
    assert ShapesEvaluatorConfig.from_json(tmp_path / "c.json") == config


def _truth_description(scene: SceneSpec) -> SceneDescription:
    objects = tuple(
        DetectedObject(o.colour, o.shape, o.direction, 0.05, 1.0, 0.0, (0.0, 0.0), 16) for o in scene.objects
    )
    return SceneDescription(scene.background, (0.0, 0.0, 0.0), objects)


def test_shuffled_prompts_score_at_chance(described):
    clips, descriptions = described(32)
    rng = np.random.default_rng(0)
    seen, truth = ShapesAccuracy(), ShapesAccuracy()
    for _ in range(3):  # three shuffles of the same clips
        for clip, description, j in zip(clips, descriptions, rng.permutation(len(clips))):
            prompt = clips[j].scene.spec
            seen.update(judge(description, prompt))
            truth.update(judge(_truth_description(clip.scene.spec), prompt))  # a perfect reader
    measured, expected = seen.summary(), truth.summary()
    for name in ("colour", "shape", "direction", "background", "joint"):
        assert abs(measured[name] - expected[name]) <= 0.05, (name, measured, expected)
    assert measured["joint"] <= 0.05
    assert 0.2 <= measured["background"] <= 0.5  # 3 backgrounds
    assert measured["colour"] <= 0.35  # 6 colours, two-object prompts need both


def test_accuracy_aggregates_verdict_dicts():
    acc = ShapesAccuracy()
    base = {"colour": True, "shape": True, "direction": False, "background": True, "object_count": True}
    acc.update({**base, "joint": False})
    acc.update({**base, "shape": False, "joint": False})
    summary = acc.summary()
    assert summary["count"] == 2 and summary["colour"] == 1.0 and summary["shape"] == 0.5
    assert summary["direction"] == 0.0 and summary["joint"] == 0.0


def test_confusion_counts_each_asked_for_shape_by_the_shape_seen(evaluator):
    # a one-object test clip, judged against its own caption and against the same with another shape
    clip = next(c for c in (make_clip(i, "test", size=64) for i in range(50)) if len(c.scene.objects) == 1)
    spec = clip.scene.spec
    drawn, background = spec.objects[0].shape, spec.background
    other = next(s for s in ("circle", "square", "triangle") if s != drawn)
    wrong = dataclasses.replace(spec, objects=(dataclasses.replace(spec.objects[0], shape=other),))
    confusion = ShapeConfusion()
    confusion.update(evaluator.evaluate(clip.video, spec))
    confusion.update(evaluator.evaluate(clip.video, wrong))
    confusion.update(evaluator.evaluate(torch.zeros(3, 16, 64, 64), spec))   # nothing drawn
    assert confusion.summary() == dict(sorted({f"{drawn} on {background} -> {drawn}": 1,
                                               f"{other} on {background} -> {drawn}": 1,
                                               f"{drawn} on {background} -> missing": 1}.items()))


def test_motion_binding_counts_where_each_object_of_a_pair_went(evaluator):
    # a two-object test clip whose objects move different ways, judged against its own caption,
    # with the two directions swapped, with one object's direction replaced by a third, and as a
    # still clip (its middle frame repeated); a one-object clip is not counted
    clips = [make_clip(i, "test", size=64) for i in range(80)]
    clip = next(c for c in clips if len(c.scene.objects) == 2
                and c.scene.objects[0].direction != c.scene.objects[1].direction)
    spec = clip.scene.spec
    a, b = spec.objects
    swapped = dataclasses.replace(spec, objects=(dataclasses.replace(a, direction=b.direction),
                                                 dataclasses.replace(b, direction=a.direction)))
    third = next(d for d in ("left", "right", "up", "down") if d not in (a.direction, b.direction))
    one_off = dataclasses.replace(spec, objects=(dataclasses.replace(a, direction=third), b))
    still = np.repeat(clip.video[7:8], 16, axis=0)                                   # T H W 3
    binding = MotionBinding()
    for video, prompt in ((clip.video, spec), (clip.video, swapped), (clip.video, one_off), (still, spec)):
        binding.update(evaluator.evaluate(video, prompt))
    single = next(c for c in clips if len(c.scene.objects) == 1)
    binding.update(evaluator.evaluate(single.video, single.scene.spec))
    assert binding.summary() == {"objects": 8, "right": 3, "the other object's": 2, "another": 1,
                                 "still": 2, "missing": 0}


def test_largest_component_matches_a_reference_labelling():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(12, 40, 50, generator=g) < 0.45
    masks[:, :2] = False  # exercise the crop to the active box
    ours = largest_components(masks)
    for i in range(masks.shape[0]):
        labels, _ = scipy_ndimage.label(masks[i].numpy(), structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        assert (ours[i].numpy() == (labels == sizes.argmax())).all()
