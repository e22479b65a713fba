"""VideoFolderDataset over generator-written files, including unreadable ones, with workers."""

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from reducio.data.datasets import VideoFolderDataset, load_captions
from reducio.data.synthetic.export import write_shapes_dataset
from reducio.errors import ConfigError, VideoInputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_shapes_dataset(root, count=6, size=64, frames=16, verify=False, progress=False)
    good = sorted(root.glob("*.mp4"))
    (root / "broken.mp4").write_bytes(good[0].read_bytes()[:1500])  # truncated: no index
    (root / "empty.mp4").write_bytes(b"")
    return root


def test_items_shapes_and_captions(folder):
    ds = VideoFolderDataset(folder, captions=folder / "captions.jsonl", frames=8, size=32, fps=16, train=False)
    assert len(ds) == 6
    item = ds[2]
    assert item["video"].shape == (3, 8, 32, 32) and item["video"].abs().max() <= 1
    expected = json.loads((folder / "captions.jsonl").read_text().splitlines()[2])["caption"]
    assert item["caption"] == expected and Path(item["path"]).name == "train_0000002.mp4"
    # eval is deterministic: middle window, centre crop
    assert torch.equal(ds[2]["video"], item["video"])


def test_train_windows_are_seeded_and_change_with_epoch(folder):
    ds = VideoFolderDataset(folder, frames=4, size=32, fps=16, seed=3)
    a, b = ds[0]["video"], ds[0]["video"]
    assert torch.equal(a, b)
    ds.set_epoch(1)
    assert not torch.equal(a, ds[0]["video"])


def test_corrupt_and_empty_files_skipped_and_counted_with_workers(folder, caplog):
    ds = VideoFolderDataset(folder, frames=8, size=32, fps=16)
    assert len(ds) == 8
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    seen = 0
    paths = set()
    for batch in loader:
        seen += batch["video"].shape[0]
        paths.update(Path(p).name for p in batch["path"])
    assert seen == 8  # every item produced, bad ones replaced
    assert "broken.mp4" not in paths and "empty.mp4" not in paths
    assert ds.skipped == 2  # marks made in the workers reach the main process
    assert sorted(Path(p).name for p in ds.skipped_paths()) == ["broken.mp4", "empty.mp4"]
    assert "2 of 8 videos skipped (2 unreadable, 0 too short" in ds.skip_summary()


def test_too_short_counted(folder):
    ds = VideoFolderDataset(folder, frames=17, size=32, fps=16, max_attempts=3)
    with pytest.raises(VideoInputError, match="no readable video"):
        ds[0]
    assert "too short" in ds.skip_summary() and ds.skipped >= 1


def test_stride_and_buckets(folder):
    ds = VideoFolderDataset(folder, frames=8, fps=8, sampling="stride", train=False, size=32)
    assert ds[1]["video"].shape == (3, 8, 32, 32)
    bucketed = VideoFolderDataset(folder, frames=4, buckets=256)
    keys = bucketed.bucket_keys()
    assert keys.count(None) == 2 and set(keys) - {None} == {(256, 256)}
    assert bucketed[0]["video"].shape == (3, 4, 256, 256)


def test_captions_csv_and_errors(tmp_path, folder):
    csv_path = tmp_path / "captions.csv"
    csv_path.write_text("videoid,name\ntrain_0000001.mp4,a clip\n")
    assert load_captions(csv_path) == [("train_0000001.mp4", "a clip")]
    ds = VideoFolderDataset(folder, captions=csv_path, frames=4, size=32)
    assert len(ds) == 1 and ds[0]["caption"] == "a clip"
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(ConfigError, match="path column"):
        load_captions(bad)
    with pytest.raises(ConfigError, match="no videos"):
        VideoFolderDataset(tmp_path, frames=4)  # holds only CSV files
