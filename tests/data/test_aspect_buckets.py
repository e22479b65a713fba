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
