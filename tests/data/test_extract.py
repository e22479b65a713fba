"""Latent extraction: contents on the synthetic world, resume, rank sharding, corrupt videos."""

import os

import pytest
import torch

from latent_toys import HashText, micro_vae
from reducio.conditioning import PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.pipelines.extract import ExtractConfig, extract, shard_plan
from reducio.data.latents import LatentShardDataset, list_shards, read_header, shard_name
from reducio.data.synthetic.world import make_clip
from reducio.errors import ConfigError


@pytest.fixture(scope="module")
def vae():
    return micro_vae()


def _config(out, **changes):
    base = dict(output=str(out), source="synthetic", split="train", count=6, size=32, frames=8, shard_size=2,
                batch_size=4, vae="micro", text_encoder="hash", device="cpu")
    return ExtractConfig(**{**base, **changes})


def _run(config, vae, rank=0, world=1, **encoders):
    return extract(config, vae=vae, text_encoder=HashText(), rank=rank, world_size=world, progress=False, **encoders)


def test_synthetic_extraction_stores_what_the_release_stores(tmp_path, vae):
    report = _run(_config(tmp_path / "mode", latent="mode", semantic_encoder="patch-pixel",
                          content_encoder="pooled-rgb"), vae,
                  semantic_encoder=PatchPixelSemanticEncoder(), content_encoder=PooledRGBContentEncoder())
    assert (report.clips_written, report.shards_written, report.failed) == (6, 3, [])
    dataset = LatentShardDataset(tmp_path / "mode")
    assert dataset.info["latent_mode"] == "mode" and dataset.info["vae_config"] == vae.arch.to_dict()
    clip = make_clip(4, "train", 32, 8)
    video = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float().div(127.5).sub(1)[None]  # 1 3 T H W
    with torch.no_grad():
        expected = vae.normalize_latent(vae.encode(video).latent_dist.mode())[0]
    item = dataset[4]
    assert torch.allclose(item["latent"], expected, atol=2e-3)  # stored in float16
    assert torch.equal(item["content_frame"], video[0, :, 3])   # (T-1)//2, exact through uint8
    text = HashText().encode([clip.caption])
    n = int(text.mask.sum())
    assert item["caption"] == clip.caption and item["text_mask"].sum() == n
    assert torch.allclose(item["text"][:n], text.tokens[0, :n], atol=1e-2)
    frame = video[:, :, 3]
    assert torch.allclose(item["semantic"], PatchPixelSemanticEncoder().encode(frame)[0], atol=1e-3)
    assert torch.allclose(item["content_latent"], PooledRGBContentEncoder().encode(frame)[0], atol=1e-3)
    record = dataset.record(4)
    assert record["source"] == "shapes:train:4" and record["frame_indices"] == list(range(8))
    assert (record["height"], record["width"], record["content_frame_index"]) == (32, 32, 3)


def test_posterior_samples_do_not_depend_on_batching_or_ranks(tmp_path, vae):
    _run(_config(tmp_path / "a", batch_size=4), vae)
    _run(_config(tmp_path / "b", batch_size=1, shard_size=1), vae, rank=0, world=2)
    _run(_config(tmp_path / "b", batch_size=1, shard_size=1), vae, rank=1, world=2)
    a, b = LatentShardDataset(tmp_path / "a"), LatentShardDataset(tmp_path / "b")
    by_item = {b.record(i)["item"]: b[i]["latent"] for i in range(len(b))}
    for i in range(len(a)):
        assert torch.equal(a[i]["latent"], by_item[a.record(i)["item"]])
    assert not torch.equal(a[0]["latent"], a[1]["latent"])


def test_rerun_skips_complete_shards_and_redoes_killed_ones(tmp_path, vae):
    out = tmp_path / "out"
    config = _config(out)
    assert _run(config, vae).shards_written == 3
    stamps = {p.name: p.stat().st_mtime_ns for p in list_shards(out)}
    again = _run(config, vae)
    assert (again.shards_written, again.shards_skipped, again.items_done_before) == (0, 3, 6)
    assert {p.name: p.stat().st_mtime_ns for p in list_shards(out)} == stamps

    # A process killed mid-write leaves only its temp file; one killed later, a truncated copy.
    second = out / shard_name(1, 0, 1)
    second.rename(out / f".{second.name}.tmp-999-deadbeef")
    third = out / shard_name(1, 0, 2)
    third.write_bytes(third.read_bytes()[:100])
    redo = _run(config, vae)
    assert (redo.shards_written, redo.shards_skipped, redo.clips_written) == (2, 1, 4)
    assert not list(out.glob(".*tmp*"))
    assert sorted(read_header(p).items for p in list_shards(out)) == [[0, 1], [2, 3], [4, 5]]
    assert len(LatentShardDataset(out)) == 6


def test_two_ranks_cover_every_item_once(tmp_path, vae):
    out = tmp_path / "out"
    plans = [shard_plan(7, 2, rank, 2) for rank in (0, 1)]
    assert plans == [[[0, 2], [4, 6]], [[1, 3], [5]]]
    for rank in (0, 1):
        report = _run(_config(out, count=7), vae, rank=rank, world=2)
        assert report.items == (4 if rank == 0 else 3)
    names = sorted(p.name for p in list_shards(out))
    assert names == [shard_name(2, 0, 0), shard_name(2, 0, 1), shard_name(2, 1, 0), shard_name(2, 1, 1)]
    items = [i for p in list_shards(out) for i in read_header(p).items]
    assert sorted(items) == list(range(7))
    sources = sorted(LatentShardDataset(out).record(i)["source"] for i in range(7))
    assert sources == sorted(f"shapes:train:{i}" for i in range(7))
    assert all((out / f"extract-report-r00{r}.json").is_file() for r in (0, 1))
    with pytest.raises(ConfigError, match="2-process extraction.*WORLD_SIZE=1"):
        _run(_config(out, count=7), vae)


def test_another_setup_in_the_same_folder_is_refused(tmp_path, vae):
    _run(_config(tmp_path), vae)
    with pytest.raises(ConfigError, match="latent_mode='sample'.*latent_mode='mode'"):
        _run(_config(tmp_path, latent="mode"), vae)


def test_corrupt_videos_are_skipped_and_counted(tmp_path, vae):
    from reducio.data.video_io import write_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for k in range(2):
        write_video(videos / f"clip{k}.mp4", make_clip(k, "train", 32, 24).video, fps=16, lossless=True)
    (videos / "broken.mp4").write_bytes(b"not a video at all" * 10)
    (tmp_path / "captions.csv").write_text("path,caption\nclip0.mp4,a first clip\nbroken.mp4,broken\n"
                                           "clip1.mp4,a second clip\n")
    config = _config(tmp_path / "out", source="folder", videos=str(videos), captions=str(tmp_path / "captions.csv"),
                     clips_per_video=2, size=32)
    report = _run(config, vae)
    assert report.clips_written == 4 and [f["item"] for f in report.failed] == [1]
    assert "broken.mp4" in report.failed[0]["error"]
    dataset = LatentShardDataset(tmp_path / "out")
    assert dataset.failed == 1 and len(dataset) == 4
    records = [dataset.record(i) for i in range(4)]
    assert [(r["item"], r["window"]) for r in records] == [(0, 0), (0, 1), (2, 0), (2, 1)]
    assert records[0]["caption"] == "a first clip" and records[2]["caption"] == "a second clip"
    assert records[0]["frame_indices"][0] < records[1]["frame_indices"][0]  # windows spread over the video
    assert all(os.path.basename(r["source"]).startswith("clip") for r in records)
