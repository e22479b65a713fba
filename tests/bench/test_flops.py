"""The benchmark suite's arithmetic: analytic DiT FLOPs, latent sizes, frame rules, stage timing."""

import time

import pytest
import torch

from reducio.bench.dit import _plan_depth, grid_for
from reducio.bench.flops import count_flops, dit_forward_flops
from reducio.bench.peers import PEERS
from reducio.bench.report import markdown_table
from reducio.bench.timing import StageTimer
from reducio.bench.vae import latent_stats
from reducio.models.dit import DiTConfig, ReducioDiT


@pytest.mark.parametrize("attention", ["3d", "2d+1d"])
@pytest.mark.parametrize("split", [False, True])
def test_dit_flops_formula_matches_flop_counter(attention, split):
    config = DiTConfig.preset("tiny").replace(attention=attention, depth=2)
    torch.manual_seed(0)
    model = ReducioDiT(config).eval()
    batch, grid, size = 2, (4, 4, 4), 128                       # content 16x16 -> 8x8 tokens
    latent = torch.randn(batch, 16, *grid)
    text, semantic = torch.randn(batch, 7, 384), torch.randn(batch, 5, 192)
    content = torch.randn(batch, 3, size // 8, size // 8)
    with torch.no_grad():
        counted = count_flops(lambda: model(latent, 10, text=text, semantic=semantic,
                                            content=content, content_split=split))
    analytic = dit_forward_flops(config, grid, batch=batch, text_tokens=7, semantic_tokens=5,
                                 content_hw=(size, size), content_split=split)
    assert analytic.total == counted


def test_dit_flops_scale_with_tokens_as_attention_says():
    config = DiTConfig.preset("reducio-dit-1.2b")
    small = dit_forward_flops(config, grid_for("reducio", 256), content_hw=(256, 256))
    large = dit_forward_flops(config, grid_for("vae-4x8x8", 256), content_hw=(256, 256))
    assert (small.tokens, large.tokens) == (256, 4096)
    # projections and MLP are linear in N, self-attention scores quadratic
    assert large.mlp / small.mlp == pytest.approx(16)
    assert large.self_attn_scores / small.self_attn_scores == pytest.approx(256)
    # 1.2B params x 2 FLOPs per token is the bulk at 256 tokens
    assert 0.5e12 < small.total < 1.0e12


def test_plan_depth_full_reduced_or_flops_only():
    config = DiTConfig.preset("reducio-dit-1.2b")
    grid = grid_for("reducio", 256)
    assert _plan_depth(config, grid, 256, 1, budget_tflop=2.0, depth=None) == 28
    reduced = _plan_depth(config, grid_for("reducio", 1024), 1024, 1, budget_tflop=2.0, depth=None)
    assert 1 <= reduced < 28
    assert _plan_depth(config, grid_for("vae-4x8x8", 1024), 1024, 1, 2.0, None) is None
    assert _plan_depth(config, grid, 256, 1, 2.0, depth=3) == 3


def test_latent_stats_of_ft4_at_256():
    stats = latent_stats((16, 4, 8, 8), 16, 256, 256, torch.float32, extra_values=3 * 256 * 256)
    assert stats["values"] == 4096 and stats["positions"] == 256 and stats["bytes"] == 16384
    assert stats["compression_values"] == 768          # 3*16*256*256 / 4096
    assert stats["compression_positions"] == 4096      # 4 x 32 x 32
    assert stats["compression_values_incl_extra"] == pytest.approx(3145728 / (4096 + 196608))


def test_peer_frame_rules_and_released_configs():
    assert {k: p.valid_frames(16) for k, p in PEERS.items()} == {
        "ltx-video": 17, "wan-2.1": 17, "cogvideox": 17}
    assert PEERS["ltx-video"].valid_frames(30) == 33 and PEERS["wan-2.1"].valid_frames(30) == 29
    for peer in PEERS.values():
        check = peer.check_defaults()
        assert check["matches"], (peer.key, check["mismatches"])


def test_stage_timer_nested_stages_are_exclusive():
    timer = StageTimer("cpu")

    class Component:
        def run(self):
            time.sleep(0.05)

    component = Component()
    timer.wrap(component, "run", "inner")
    with timer.stage("outer"):
        time.sleep(0.02)
        component.run()
        component.run()
    assert timer.calls == {"inner": 2, "outer": 1}
    assert timer.wall_s["inner"] >= 0.1
    assert 0.02 <= timer.wall_s["outer"] < 0.09   # the inner 0.1 s is not billed to outer


def test_markdown_table_aligns_numbers_and_marks_missing():
    table = markdown_table(["model", "s"], [["a", 1.23456], ["b", None]]).splitlines()
    assert table[0].startswith("| model") and table[1].endswith("-:|")
    assert "1.23" in table[2] and "n/a" in table[3]


def test_bad_vae_benchmark_arguments_fail_before_any_model_runs():
    from reducio.bench.isolate import BenchmarkError
    from reducio.bench.vae import run_vae_benchmark
    from reducio.errors import ConfigError

    with pytest.raises(BenchmarkError, match="valid: reducio-<preset>"):
        run_vae_benchmark(models=("reducio-tiny", "sora"), size=64)
    with pytest.raises(BenchmarkError, match="use 96"):
        run_vae_benchmark(models=("reducio-tiny",), size=100)
    with pytest.raises(ConfigError, match="fp32, bf16, fp16"):
        run_vae_benchmark(models=("reducio-tiny",), size=64, dtype="fp64")


def test_reducio_model_key_takes_config_overrides():
    """`reducio-<preset>@field=value`: a narrower decoder counts fewer decode FLOPs for the same
    latent; the encoder side is unchanged; a malformed override names the form."""
    from reducio.bench.isolate import BenchmarkError
    from reducio.bench.vae import count_vae_flops, reducio_config

    assert reducio_config("reducio-tiny@decoder_channels=64,window_size=16").decoder_channels == 64
    base = count_vae_flops("reducio-tiny", 64, 16)
    wide = count_vae_flops("reducio-tiny@decoder_channels=64", 64, 16)
    assert wide["latent_shape"] == base["latent_shape"]
    assert (wide["encode"], wide["content"]) == (base["encode"], base["content"])
    assert 2.5 * base["decode"] < wide["decode"] < 4.5 * base["decode"]   # convolutions ~ width^2
    with pytest.raises(BenchmarkError, match="field=value pairs.*reducio-ft4-1024@decoder_channels=64"):
        reducio_config("reducio-tiny@decoder_channels")
