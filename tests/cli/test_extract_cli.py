"""`reducio extract` end to end on the synthetic world: shards, resume, RANK / WORLD_SIZE, errors."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import HashText  # noqa: E402

from reducio.cli.main import build_parser, load_command  # noqa: E402
from reducio.data.latents import LatentShardDataset, list_shards  # noqa: E402
from reducio.errors import ConfigError  # noqa: E402


def _run(argv):
    args = build_parser().parse_args(argv)
    return load_command(args).run(args)


@pytest.fixture
def hash_text(monkeypatch):
    """The CLI loads its text encoder by name; MiniLM costs ~10 s to load, so tests use a hash encoder."""
    import reducio.pipelines.extract as extract_module

    torch.set_num_threads(1)
    monkeypatch.setattr(extract_module, "load_text_encoder", lambda spec, **kwargs: HashText())


ARGS = ["--synthetic", "train", "--count", "4", "--size", "32", "--vae", "random:tiny@0", "--shard-size", "2",
        "--semantic-encoder", "patch-pixel", "--content-encoder", "pooled-rgb", "--no-progress"]


def test_extract_synthetic_then_resume(tmp_path, hash_text, capsys):
    out = tmp_path / "shards"
    assert _run(["extract", *ARGS, "--output", str(out), "--latent", "mode"]) == 0
    printed = capsys.readouterr().out
    assert "4 clips in 2 new shard(s)" in printed and "0 item(s) skipped" in printed
    dataset = LatentShardDataset(out)
    assert len(dataset) == 4 and dataset.info["latent_mode"] == "mode" and dataset.info["vae"] == "random:tiny@0"
    item = dataset[0]
    assert item["latent"].shape == (16, 4, 1, 1) and item["semantic"].shape == (64, 192)
    assert item["content_latent"].shape == (3, 4, 4) and item["content_frame"].shape == (3, 32, 32)
    report = json.loads((out / "extract-report-r000.json").read_text())
    assert report["clips_written"] == 4 and report["clips_per_second"] > 0

    assert _run(["extract", *ARGS, "--output", str(out), "--latent", "mode"]) == 0
    again = capsys.readouterr().out
    assert "0 clips in 0 new shard(s)" in again and "2 shard(s) already complete (4 items)" in again
    assert len(list_shards(out)) == 2


def test_ranks_from_the_environment_split_the_work(tmp_path, hash_text, monkeypatch, capsys):
    out = tmp_path / "shards"
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert _run(["extract", *ARGS, "--output", str(out)]) == 0
        assert f"rank {rank}/2: 2 clips" in capsys.readouterr().out
    names = sorted(p.name for p in list_shards(out))
    assert names == ["shard-w002-r000-000000.safetensors", "shard-w002-r001-000000.safetensors"]
    sources = sorted(LatentShardDataset(out).record(i)["source"] for i in range(4))
    assert sources == [f"shapes:train:{i}" for i in range(4)]


def test_bad_arguments_are_named(tmp_path, hash_text, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="RANK < WORLD_SIZE.*RANK=3"):
        _run(["extract", *ARGS, "--output", str(tmp_path)])
    with pytest.raises(ConfigError, match="either --synthetic SPLIT or videos"):
        _run(["extract", "videos/", "--synthetic", "train", "--output", str(tmp_path)])
    with pytest.raises(ConfigError, match="needs a videos folder"):
        _run(["extract", "--output", str(tmp_path)])


@pytest.mark.slow
def test_extract_with_the_packaged_minilm(tmp_path):
    """The default text encoder, for real (slow: loading MiniLM takes ~10 s on a shared CPU)."""
    out = tmp_path / "shards"
    assert _run(["extract", "--synthetic", "train", "--count", "2", "--size", "32", "--vae", "random:tiny@0",
                 "--output", str(out), "--no-progress"]) == 0
    dataset = LatentShardDataset(out)
    assert dataset.info["text_encoder"] == "minilm" and dataset.info["text_dim"] == 384
    assert dataset[0]["text"].shape == (64, 384) and 5 < int(dataset[0]["text_mask"].sum()) < 40
