import pytest

from reducio.data.buckets import (
    ASPECT_RATIO_256,
    ASPECT_RATIO_512,
    ASPECT_RATIO_1024,
    BucketBatchSampler,
    closest_bucket,
)
from reducio.errors import ConfigError


def test_tables_are_pixart_scaled_copies():
    # PixArt's three tables share keys and each is twice the previous one.
    assert list(ASPECT_RATIO_256) == list(ASPECT_RATIO_512) == list(ASPECT_RATIO_1024)
    assert len(ASPECT_RATIO_1024) == 40
    for key in ASPECT_RATIO_256:
        h, w = ASPECT_RATIO_256[key]
        assert ASPECT_RATIO_512[key] == (2 * h, 2 * w) and ASPECT_RATIO_1024[key] == (4 * h, 4 * w)
        assert abs(h / w - float(key)) < 0.03
    assert ASPECT_RATIO_1024["0.57"] == (768, 1344) and ASPECT_RATIO_1024["1.0"] == (1024, 1024)


def test_closest_bucket():
    assert closest_bucket(720, 1280, 1024) == (768, 1344)  # 0.5625 -> 0.57
    assert closest_bucket(1080, 1080, 512) == (512, 512)
    assert closest_bucket(1280, 720, 1024) == (1344, 768)  # portrait: 1.78 -> 1.75
    assert closest_bucket(720, 1280, 256, multiple=16) == (192, 336)
    h, w = closest_bucket(720, 1280, 256)  # 336 is not a multiple of 32: the next-closest bucket
    assert (h, w) == (192, 320) and h % 32 == 0 and w % 32 == 0
    for key, (h, w) in ASPECT_RATIO_512.items():
        assert closest_bucket(h, w, 512) == (h, w)
    with pytest.raises(ConfigError, match="256, 512, 1024"):
        closest_bucket(10, 10, 300)


def test_bucket_batch_sampler_groups_and_covers():
    keys = [(256, 256), (192, 320), None, (256, 256), (192, 320), (256, 256), (256, 256), (192, 320)]
    sampler = BucketBatchSampler(keys, batch_size=2, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 4
    assert sorted(i for b in batches for i in b) == [0, 1, 3, 4, 5, 6, 7]
    for batch in batches:
        assert len({keys[i] for i in batch}) == 1
    assert batches == list(sampler)
    sampler.set_epoch(1)
    epochs = [list(sampler)]
    for epoch in range(2, 6):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    for other in epochs:
        assert sorted(i for b in other for i in b) == [0, 1, 3, 4, 5, 6, 7]
    assert any(other != batches for other in epochs)  # a new epoch reshuffles
    dropped = BucketBatchSampler(keys, batch_size=2, drop_last=True)
    assert len(dropped) == len(list(dropped)) == 3


@pytest.mark.parametrize("text, ratio", [("16:9", 9 / 16), ("9:16", 16 / 9), ("1:1", 1.0), ("4/3", 0.75),
                                         ("2", 0.5), (" 21 : 9 ", 9 / 21)])
def test_parse_aspect_reads_width_to_height(text, ratio):
    from reducio.data.buckets import parse_aspect

    assert parse_aspect(text) == pytest.approx(ratio)


@pytest.mark.parametrize("text", ["16x9", "0:9", "16:0", "wide", ""])
def test_parse_aspect_rejects_with_the_accepted_forms(text):
    from reducio.data.buckets import parse_aspect
    from reducio.errors import ConfigError

    with pytest.raises(ConfigError, match="W:H"):
        parse_aspect(text)


def test_bucket_for_aspect_uses_pixart_tables_and_scales_other_sizes():
    from reducio.data.buckets import bucket_for_aspect

    assert bucket_for_aspect(1024, 9 / 16) == (768, 1344)      # PixArt 1024 key 0.57
    assert bucket_for_aspect(512, 16 / 9) == (672, 384)        # key 1.75
    assert bucket_for_aspect(1024, 1.0) == (1024, 1024)
    assert bucket_for_aspect(256, 9 / 16) == (192, 320)      # key 0.57's (192, 336) is not a 32-multiple
    assert bucket_for_aspect(64, 1.0) == (64, 64)
    assert bucket_for_aspect(128, 9 / 16) == (96, 160)       # ~128^2 pixels, multiples of 32
    assert bucket_for_aspect(64, 1 / 10) == (32, 192)        # never below one multiple
