import numpy as np
import pytest
import torch

from reducio.data.transforms import (
    apply_box,
    center_crop_box,
    crop_to_multiple_box,
    parse_size,
    random_resized_crop_box,
    resize_video,
    unit_to_uint8,
    uint8_to_unit,
)
from reducio.errors import ShapeError


def test_parse_size():
    assert parse_size(64) == (64, 64)
    assert parse_size((256, 448)) == (256, 448)
    assert parse_size(None) is None
    with pytest.raises(ShapeError, match="height 250 is not a positive multiple of 32.*use 224 or 256"):
        parse_size(250)
    with pytest.raises(ShapeError):
        parse_size((64, 64, 64))


def test_center_crop_box_keeps_aspect_and_centres():
    box = center_crop_box(720, 1280, (256, 256))
    assert (box.height, box.width, box.top, box.left) == (720, 720, 0, 280)
    wide = center_crop_box(720, 1280, (256, 512))
    assert wide.width == 1280 and wide.height == 640 and wide.top == 40


def test_random_resized_crop_box_follows_scale_and_ratio():
    rng = np.random.default_rng(0)
    for _ in range(200):
        box = random_resized_crop_box(480, 640, (64, 64), rng)
        area = box.height * box.width / (480 * 640)
        assert 0.5 - 0.01 <= area <= 1.0 + 0.01
        assert 3 / 4 - 0.02 <= box.width / box.height <= 4 / 3 + 0.02
        assert 0 <= box.top <= 480 - box.height and 0 <= box.left <= 640 - box.width
    a = random_resized_crop_box(480, 640, (64, 64), np.random.default_rng(5))
    assert a == random_resized_crop_box(480, 640, (64, 64), np.random.default_rng(5))


def test_apply_box_resizes_with_antialias():
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[:, ::2] = 255  # 1-px stripes: antialiased downscale gives mid grey, not stripes
    out = apply_box(frame, center_crop_box(64, 64, (32, 32)))
    assert out.shape == (3, 32, 32)
    inner = out[:, :, 1:-1]  # the filter is clipped at the borders
    assert torch.allclose(inner, torch.full_like(inner, 127.5), atol=1.0)


def test_crop_to_multiple_box():
    box = crop_to_multiple_box(720, 1270)
    assert (box.height, box.width, box.out_height, box.out_width) == (704, 1248, 704, 1248)
    with pytest.raises(ShapeError, match="--size"):
        crop_to_multiple_box(20, 100)


def test_resize_video_and_unit_conversions():
    video = torch.rand(3, 4, 48, 80) * 2 - 1
    out = resize_video(video, 32)
    assert out.shape == (3, 4, 32, 32) and out.abs().max() <= 1
    pixels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(unit_to_uint8(uint8_to_unit(pixels)), pixels)
