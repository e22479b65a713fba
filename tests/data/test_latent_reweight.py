"""Reweighting a latent-shard folder: two-object records repeated, everything copied bit for bit."""

import pytest
import torch
from latent_toys import TOY_SHARD_INFO, toy_record, write_toy_shards
from safetensors import safe_open

from reducio.data.latent_reweight import names_two_objects, reweight_two_object_records
from reducio.data.latents import (
    OPTIONAL_TENSORS,
    LatentShardDataset,
    LatentShardError,
    list_shards,
    read_header,
    record_key,
    shard_name,
    write_shard,
)
from reducio.data.synthetic.world import sample_scene, seed_for
from reducio.errors import ConfigError, OutputPathError

ONE = "a red circle moving left on a black background"
TWO = "a blue square moving up and a green triangle moving right on a white background"
# 7 records in shards of 3, 3, 1; records 1, 4 and 6 show two objects
CAPTIONS = [ONE, TWO, ONE, ONE, TWO, ONE, TWO]


def _stored(path, k):
    """Record k of a shard as stored: every tensor in its on-disk dtype."""
    with safe_open(str(path), framework="pt") as handle:
        keys = set(handle.keys())
        return {name: handle.get_tensor(record_key(k, name))
                for name in ("latent", "content_frame", "text", *OPTIONAL_TENSORS) if record_key(k, name) in keys}


def _all_stored(folder):
    """(tensors, meta) of every record of every shard in `folder`, in order."""
    out = []
    for path in list_shards(folder):
        header = read_header(path)
        out += [(_stored(path, k), meta) for k, meta in enumerate(header.records)]
    return out


def test_two_object_records_are_repeated_in_place_and_copied_bit_for_bit(tmp_path):
    write_toy_shards(tmp_path / "src", CAPTIONS, per_shard=3)
    report = reweight_two_object_records(tmp_path / "src", tmp_path / "out", two_object_copies=3, shard_size=4)
    assert (report.one_object, report.two_object, report.records, report.shards) == (4, 3, 13, 4)
    assert report.two_object_share == pytest.approx(9 / 13)
    source, copied = _all_stored(tmp_path / "src"), _all_stored(tmp_path / "out")
    expected = [0, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 6, 6]               # source record of each output record
    assert len(copied) == len(expected)
    for (tensors, meta), i in zip(copied, expected):
        assert meta == source[i][1]
        assert tensors.keys() == source[i][0].keys() == {"latent", "content_frame", "text", "content_latent"}
        for name, value in tensors.items():
            assert value.dtype == source[i][0][name].dtype and torch.equal(value, source[i][0][name]), name
    paths = list_shards(tmp_path / "out")
    assert [p.name for p in paths] == [f"shard-w001-r000-{i:06d}.safetensors" for i in range(4)]
    for index, path in enumerate(paths):
        header = read_header(path)
        assert header.info == TOY_SHARD_INFO and header.items == [] and header.failed == []
        assert header.shard == {"rank": 0, "world_size": 1, "index": index}
        assert len(header.records) == (4 if index < 3 else 1)
    assert len(LatentShardDataset(tmp_path / "out")) == 13          # the copy reads as a training set


def test_one_copy_reproduces_the_records(tmp_path):
    write_toy_shards(tmp_path / "src", CAPTIONS, per_shard=3)
    report = reweight_two_object_records(tmp_path / "src", tmp_path / "out", two_object_copies=1, shard_size=256)
    assert (report.records, report.shards) == (7, 1)
    source, copied = _all_stored(tmp_path / "src"), _all_stored(tmp_path / "out")
    assert [meta for _, meta in copied] == [meta for _, meta in source]
    assert all(torch.equal(a[0][n], b[0][n]) for a, b in zip(copied, source) for n in a[0])


def test_names_two_objects_agrees_with_the_world(tmp_path):
    for motion in ("axis", "eight"):
        for i in range(300):
            scene = sample_scene(seed_for(i, "train"), "train", motion=motion)
            assert names_two_objects(scene.caption) == (len(scene.objects) == 2), scene.caption


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(tmp_path):
    write_toy_shards(tmp_path / "src", CAPTIONS, per_shard=3)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep")
    with pytest.raises(OutputPathError, match="is not empty"):
        reweight_two_object_records(tmp_path / "src", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]
    with pytest.raises(OutputPathError, match="is not empty"):              # the source itself
        reweight_two_object_records(tmp_path / "src", tmp_path / "src")
    with pytest.raises(OutputPathError, match="existing file"):
        reweight_two_object_records(tmp_path / "src", tmp_path / "out" / "notes.txt")


def test_a_folder_without_shards_or_records_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentShardError, match="holds no latent shards"):
        reweight_two_object_records(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(LatentShardError, match="not found"):
        reweight_two_object_records(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "none").mkdir()
    write_shard(tmp_path / "none" / shard_name(1, 0, 0), [], info=TOY_SHARD_INFO, items=[])
    with pytest.raises(LatentShardError, match="hold no clips"):
        reweight_two_object_records(tmp_path / "none", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("copies, size", [(0, 4), (2, 0)])
def test_counts_below_one_are_refused(tmp_path, copies, size):
    write_toy_shards(tmp_path / "src", CAPTIONS, per_shard=3)
    with pytest.raises(ConfigError, match=">= 1"):
        reweight_two_object_records(tmp_path / "src", tmp_path / "out", two_object_copies=copies, shard_size=size)


def test_shards_of_different_extractions_are_refused(tmp_path):
    write_toy_shards(tmp_path / "src", CAPTIONS, per_shard=3)
    write_shard(tmp_path / "src" / shard_name(1, 0, 9), [toy_record(9, ONE)],
                info={**TOY_SHARD_INFO, "vae": "other"}, items=[9])
    with pytest.raises(LatentShardError, match="vae='other'"):
        reweight_two_object_records(tmp_path / "src", tmp_path / "out")
