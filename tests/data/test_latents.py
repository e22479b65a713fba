"""Latent shards: write/read round trip, schema checks, consistency checks, bucket grouping."""

import json

import pytest
import torch
from safetensors.torch import save_file
from torch.utils.data import DataLoader

from reducio.data.latents import (
    SCHEMA_VERSION,
    BucketGroupedDataset,
    LatentShardDataset,
    LatentShardError,
    ShardRecord,
    content_frame_to_stored,
    read_header,
    shard_name,
    ungroup,
    write_shard,
)

INFO = {"vae": "random:tiny@0", "vae_config_hash": "abc", "latent_mode": "sample", "latent_channels": 4,
        "frames": 8, "text_encoder": "hash", "text_dim": 6, "text_max_length": 5, "semantic_encoder": None,
        "content_encoder": "pooled-rgb", "content_channels": 3, "has_content_latent": True,
        "has_semantic": False, "content_frame_dtype": "uint8"}


def _record(k: int, size=(32, 32), words: int = 3) -> ShardRecord:
    g = torch.Generator().manual_seed(k)
    h, w = size
    frame = torch.rand(3, h, w, generator=g) * 2 - 1
    return ShardRecord(
        latent=torch.randn(4, 2, h // 32, w // 32, generator=g).half(),
        content_frame=content_frame_to_stored(frame, "uint8"),
        text=torch.randn(words, 6, generator=g).half(),
        content_latent=torch.randn(3, h // 8, w // 8, generator=g).half(),
        meta={"caption": f"clip {k}", "source": f"video{k}.mp4", "item": k, "window": 0,
              "frame_indices": list(range(k, k + 8)), "fps": 16.0, "height": h, "width": w,
              "bucket": [h, w]},
    )


def test_round_trip_with_mixed_sizes(tmp_path):
    records = [_record(0), _record(1, (32, 64), words=5), _record(2, words=1)]
    write_shard(tmp_path / shard_name(1, 0, 0), records, info=INFO, items=[0, 1, 2, 3],
                failed=[{"item": 3, "error": "corrupt"}], shard={"rank": 0, "world_size": 1, "index": 0})
    dataset = LatentShardDataset(tmp_path)
    assert len(dataset) == 3 and dataset.failed == 1 and dataset.info == INFO
    assert dataset.bucket_keys() == [(32, 32), (32, 64), (32, 32)]
    for i, record in enumerate(records):
        item = dataset[i]
        assert torch.equal(item["latent"], record.latent.float())
        assert torch.equal(item["content_latent"], record.content_latent.float())
        assert torch.equal(content_frame_to_stored(item["content_frame"], "uint8"), record.content_frame)
        n = record.text.shape[0]
        assert item["text"].shape == (5, 6) and item["text_mask"].tolist() == [j < n for j in range(5)]
        assert torch.equal(item["text"][:n], record.text.float()) and not item["text"][n:].any()
        assert item["caption"] == f"clip {i}" and item["index"] == i and "semantic" not in item
        assert dataset.record(i)["frame_indices"] == list(range(i, i + 8))
    header = read_header(tmp_path / shard_name(1, 0, 0))
    assert header.schema_version == SCHEMA_VERSION and header.items == [0, 1, 2, 3]
    # equal sizes collate into a batch
    batch = next(iter(DataLoader(torch.utils.data.Subset(dataset, [0, 2]), batch_size=2)))
    assert batch["latent"].shape == (2, 4, 2, 1, 1) and batch["caption"] == ["clip 0", "clip 2"]


def _raw_shard(path, **metadata):
    base = {"reducio_format": "reducio-latent-shard", "schema_version": "1", "info": json.dumps(INFO),
            "records": "[]", "items": "[]"}
    save_file({}, str(path), metadata={**base, **metadata})


def test_future_schema_version_is_refused_with_a_clear_error(tmp_path):
    _raw_shard(tmp_path / "shard-w001-r000-000000.safetensors", schema_version=str(SCHEMA_VERSION + 1))
    with pytest.raises(LatentShardError, match=rf"schema version {SCHEMA_VERSION + 1} is newer.*upgrade reducio"):
        LatentShardDataset(tmp_path)


@pytest.mark.parametrize("break_it, message", [
    (lambda p: p.write_bytes(b"\x00" * 20), "not a readable safetensors shard"),
    (lambda p: _raw_shard(p, reducio_format="latents"), "not a reducio latent shard"),
    (lambda p: _raw_shard(p, records="[{"), "damaged shard metadata"),
])
def test_broken_shards_are_named(tmp_path, break_it, message):
    break_it(tmp_path / "shard-w001-r000-000000.safetensors")
    with pytest.raises(LatentShardError, match=message):
        LatentShardDataset(tmp_path)


def test_empty_folder_and_mixed_setups_are_refused(tmp_path):
    with pytest.raises(LatentShardError, match="no latent shards.*reducio extract"):
        LatentShardDataset(tmp_path)
    write_shard(tmp_path / shard_name(1, 0, 0), [_record(0)], info=INFO, items=[0])
    write_shard(tmp_path / shard_name(1, 0, 1), [_record(1)], info={**INFO, "latent_mode": "mode"}, items=[1])
    with pytest.raises(LatentShardError, match="latent_mode='mode'.*latent_mode='sample'"):
        LatentShardDataset(tmp_path)


def test_bucket_groups_hold_one_size_and_ungroup_keeps_pairs(tmp_path):
    sizes = [(32, 32), (32, 64), (32, 32), (32, 64), (32, 32), (64, 32)]
    write_shard(tmp_path / shard_name(1, 0, 0), [_record(k, s) for k, s in enumerate(sizes)], info=INFO,
                items=list(range(6)))
    dataset = LatentShardDataset(tmp_path)
    grouped = BucketGroupedDataset(dataset, 2, seed=3)
    # (32, 32): 3 clips -> 1 group of 2; (32, 64): 1 group; (64, 32): 1 clip -> dropped
    assert len(grouped) == 2
    seen = set()
    for epoch in range(4):
        grouped.set_epoch(epoch)
        seen.add(tuple(tuple(g) for g in grouped.groups))
        batch = ungroup(next(iter(DataLoader(grouped, batch_size=1))))
        assert batch["latent"].ndim == 5 and batch["latent"].shape[0] == 2
        for index, caption, latent in zip(batch["index"].tolist(), batch["caption"], batch["latent"]):
            assert caption == f"clip {index}" and torch.equal(latent, dataset[index]["latent"])
        assert len({tuple(dataset[i]["content_frame"].shape) for i in batch["index"].tolist()}) == 1
    assert len(seen) > 1  # reshuffled across epochs
    with pytest.raises(Exception, match="no aspect bucket holds 4 clips"):
        BucketGroupedDataset(dataset, 4)
