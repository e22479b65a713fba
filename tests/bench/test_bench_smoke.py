"""Every benchmark end to end at the tiny size: it runs, its JSON round-trips, its tables print,
and the numbers it reports are consistent with each other. Slow (subprocesses, model builds)."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_vae_benchmark_tiny_in_fresh_process(tmp_path):
    from reducio.bench.report import write_json
    from reducio.bench.vae import run_vae_benchmark, vae_tables

    record = run_vae_benchmark(models=("reducio-tiny",), size=64, threads=1, isolated=True,
                               progress=lambda *_: None)
    (result,) = record["results"]
    assert record["failures"] == [] and result["frames"] == 16
    assert result["latent"]["latent_shape"] == [16, 4, 2, 2]
    assert result["latent"]["compression_values"] == 768
    phases = result["phases"]
    assert set(phases) == {"encode", "content", "decode"}
    assert all(p["time"]["median_s"] > 0 for p in phases.values())
    # a fresh process: its lifetime peak covers the model and every phase's working set
    assert result["process_peak_rss_mib"] >= result["memory_after_build_mib"]
    assert result["flops"]["total"] == sum(result["flops"][k] for k in ("encode", "content", "decode"))
    assert record["comparison"][0]["total_ratio"] == pytest.approx(1.0)
    path = write_json(tmp_path / "vae.json", record)
    assert json.loads(path.read_text())["results"][0]["model"] == "reducio-tiny"
    assert "reducio-tiny" in vae_tables(record)


def test_vae_benchmark_peer_gets_its_frame_count():
    from reducio.bench.vae import run_vae_benchmark

    record = run_vae_benchmark(models=("reducio-tiny", "wan-2.1"), size=32, threads=1,
                               isolated=False, flops=False, progress=lambda *_: None)
    reducio, wan = record["results"]
    assert (reducio["frames"], wan["frames"]) == (16, 17)
    # the first 16 frames are the same pixels for both models
    assert wan["latent"]["latent_shape"] == [16, 5, 4, 4]
    assert record["comparison"][1]["latent_values_ratio"] == pytest.approx(1280 / 64)


def test_dit_benchmark_compares_grids_and_labels_extrapolation():
    from reducio.bench.dit import dit_tables, run_dit_benchmark

    record = run_dit_benchmark(preset="tiny", sizes=(64,), threads=1, isolated=False,
                               max_tflop=1e-3, progress=lambda *_: None)
    rows = {r["grid_kind"]: r for r in record["rows"]}
    assert rows["reducio"]["tokens"] == 16 and rows["vae-4x8x8"]["tokens"] == 256
    (comparison,) = record["comparison"]
    assert comparison["tokens_ratio"] == 16 and comparison["flops_ratio"] > 1
    # the 256-token grid exceeds the tiny budget: timed with fewer blocks and scaled, labelled
    big = rows["vae-4x8x8"]
    assert big["extrapolated"] and big["depth_measured"] < 6 and "EXTRAPOLATED" in big["extrapolation"]
    assert big["step_s"] > big["measured_step_s"]
    assert not rows["reducio"]["extrapolated"]
    assert 0 < rows["reducio"]["fraction_of_peak"]
    assert "vae-4x8x8" in dit_tables(record)


def test_e2e_benchmark_tiny_stages_add_up():
    from reducio.bench.e2e import STAGES, e2e_tables, run_e2e_benchmark

    record = run_e2e_benchmark(scale="tiny", steps=2, stage1_steps=2, threads=1, isolated=False,
                               progress=lambda *_: None)
    result = record["result"]
    stages = result["timing"]["stages_s"]
    assert set(stages) == set(STAGES)
    assert all(v >= 0 for v in stages.values())
    assert result["output_shape"] == [1, 16, 3, 64, 64]      # B T 3 H W
    # exclusive stage times cover the pipeline's own total (which includes only its own calls)
    assert sum(stages.values()) >= 0.9 * result["pipeline_timings"]["total"]
    assert "paper" in e2e_tables(record)


def test_throughput_benchmark_tiny():
    from reducio.bench.throughput import run_throughput_benchmark, throughput_tables

    record = run_throughput_benchmark(batch_sizes=(1, 2), train_steps=1, threads=1, warmup=0,
                                      repeats=1, isolated=True, progress=lambda *_: None)
    assert record["failures"] == []
    (extraction,) = record["extraction"]
    assert [r["batch"] for r in extraction["rows"]] == [1, 2]
    assert extraction["rows"][0]["latent_shape"] == [16, 4, 2, 2]
    (training,) = record["training"]
    assert training["tokens_per_s"] == pytest.approx(training["samples_per_s"] * 16)
    assert 0 < training["mfu"] and training["last_metrics"]["loss/total"] > 0
    assert "DiT training" in throughput_tables(record)


def test_cli_writes_json_with_command(tmp_path, capsys):
    from reducio.cli.run.bench import main

    out = tmp_path / "dit.json"
    assert main(["dit", "--quick", "--size", "32", "--threads", "1", "--in-process",
                 "-o", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["benchmark"] == "dit" and record["settings"]["preset"] == "tiny"
    assert record["environment"]["cpu"] and record["environment"]["torch"]
    assert "reducio bench dit" in record["command"]
    assert "tokens" in capsys.readouterr().out


def test_vae_tile_path_is_labelled_extrapolation():
    from reducio.bench.vae import run_vae_benchmark, vae_tables

    record = run_vae_benchmark(models=("reducio-tiny",), size=32, tile=True,
                               tile_model="reducio-tiny", threads=1, isolated=False, flops=False,
                               progress=lambda *_: None)
    tile = record["tile_1024"]
    assert tile["tile"]["size"] == 320 and "EXTRAPOLATED" in tile["extrapolation"]
    # the tiled 1024 path costs more than 16 untiled 256 px tiles' worth of one 320 px tile's
    # area would suggest (overlap), and less than 16 whole 320 px tiles
    ratio = tile["full_1024_flops"]["total"] / tile["tile_flops"]["total"]
    assert 1024**2 / 320**2 < ratio <= 16.5
    assert tile["extrapolated_1024_total_s"] > 0
    assert "EXTRAPOLATED" in vae_tables(record) or "extrapolated" in vae_tables(record).lower()


# The full setting's models at miniature widths: the code path the GPU runs (T5 -> PixArt stage 1
# -> CLIP + SD-VAE conditions -> DiT loop -> Reducio-VAE decode) exercised on the CPU.
MINI_FULL = dict(
    name="mini-full", kind="full", size=64, vae_preset="tiny", dit_preset="tiny",
    dit_overrides=dict(text_dim=64, semantic_dim=32, content_channels=4, content_scale=0.18215),
    steps=2, stage1_steps=2, text_length=8,
    text=dict(vocab_size=100, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
              feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    stage1=dict(num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=8,
                num_layers=2, cross_attention_dim=32, attention_bias=True, sample_size=8,
                patch_size=2, activation_fn="gelu-approximate", num_embeds_ada_norm=1000,
                norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6,
                caption_channels=64),
    stage1_vae=dict(in_channels=3, out_channels=3, latent_channels=4,
                    down_block_types=("DownEncoderBlock2D",) * 4,
                    up_block_types=("UpDecoderBlock2D",) * 4,
                    block_out_channels=(16, 16, 16, 16), layers_per_block=1, norm_num_groups=8),
    semantic=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, patch_size=14, image_size=56, projection_dim=16),
)
MINI_FULL["content"] = MINI_FULL["stage1_vae"]


def test_e2e_full_path_at_miniature_widths_with_decode_options():
    from reducio.bench.e2e import STAGES, e2e_tables, measure_e2e

    spec = dict(MINI_FULL, stage1_guidance_scale=1.0)   # stage 1 without CFG (LCM-style)
    result = measure_e2e(spec=spec, device="cpu", dtype="fp32", warmup=0, threads=1,
                         vae_tiling="off", channels_last=True, extra_steps=(1,), offload="pinned")
    assert result["output_shape"] == [1, 16, 3, 64, 64]      # B T 3 H W
    # diffusers' model CPU offload has no pinned mode: "pinned" runs as "copy", and says so
    assert result["offload"] == "copy" and result["offload_requested"] == "pinned"
    assert set(result["timing"]["stages_s"]) == set(STAGES)
    assert result["vae_tiled"] is False and result["channels_last"] is True
    assert list(result["extra_steps"]) == ["1"]
    record = {"result": result, "paper_a100_s": 15.5,
              "environment": {"cpu": "test", "usable_cores": 1, "torch_threads": 1,
                              "torch": "x"}}
    table = e2e_tables(record)
    assert "untiled VAE decode (not parity-exact)" in table and "per DiT step count" in table
    assert ("model CPU offload (diffusers, copied both ways; 'pinned' requested: diffusers has "
            "no pinned mode)") in table


def test_decode_benchmark_variants_agree_and_bad_variant_is_named():
    from reducio.bench.decode import DecodeVariant, decode_tables, measure_decode
    from reducio.bench.isolate import BenchmarkError

    # tiny tiles above 320 px: 352 px is tiled (2 x 2 tiles) by "tiled", whole by "untiled"
    record = measure_decode(model="reducio-tiny", size=352, frames=16, dtype="fp32",
                            device="cpu", variants=("tiled", "tiled+cl", "untiled"),
                            warmup=0, repeats=1, threads=1)
    rows = {r["name"]: r for r in record["result"]["variants"]}
    assert rows["tiled"]["output_shape"] == [1, 3, 16, 352, 352]
    # the layout does not change the result beyond rounding
    assert rows["tiled+cl"]["max_abs_diff"]["vs"] == "tiled"
    assert rows["tiled+cl"]["max_abs_diff"]["value"] < 1e-3
    # untiled is a different computation with fewer FLOPs (no overlapping tiles)
    assert rows["untiled"]["tflop"] < rows["tiled"]["tflop"]
    assert rows["untiled"]["untiled_vs_tiled_mean_abs"] > 0
    assert "untiled" in decode_tables(record)
    with pytest.raises(BenchmarkError, match="untiled\\+cl\\+compile"):
        DecodeVariant.parse("untiled+fast")


def test_vae_benchmark_in_process_failure_is_recorded_and_the_rest_run(monkeypatch):
    # on a GPU every model runs in-process: one running out of memory must not end the run
    import torch

    import reducio.bench.vae as vae_bench

    real = vae_bench.measure_vae

    def fake(**kwargs):
        if kwargs["model"] == "wan-2.1":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40.00 GiB")
        return real(**kwargs)

    monkeypatch.setattr(vae_bench, "measure_vae", fake)
    record = vae_bench.run_vae_benchmark(models=("wan-2.1", "reducio-tiny"), size=32, threads=1,
                                         isolated=False, flops=False, progress=lambda *_: None)
    assert [r["model"] for r in record["results"]] == ["reducio-tiny"]
    (failure,) = record["failures"]
    assert failure["model"] == "wan-2.1" and failure["kind"] == "OutOfMemoryError"
    assert "FAILED: wan-2.1 (OutOfMemoryError): CUDA out of memory" in vae_bench.vae_tables(record)


def test_e2e_vae_option_builds_the_narrower_decoder_and_names_bad_overrides():
    from reducio.bench.e2e import run_e2e_benchmark
    from reducio.bench.isolate import BenchmarkError

    def run(vae):
        return run_e2e_benchmark(scale="tiny", vae=vae, steps=1, stage1_steps=1, threads=1,
                                 warmup=0, isolated=False, progress=lambda *_: None)["result"]

    base, wide = run(None), run("tiny@decoder_channels=64")
    assert base["spec"]["vae_preset"] == "tiny" and wide["spec"]["vae_preset"] == "tiny@decoder_channels=64"
    assert wide["vae_decoder_parameters"] > 2 * base["vae_decoder_parameters"]
    assert wide["output_shape"] == base["output_shape"] == [1, 16, 3, 64, 64]
    with pytest.raises(BenchmarkError, match="unknown key bogus in VAEConfig"):
        run("tiny@bogus=1")


def test_e2e_offload_mode_is_named_and_checked():
    from reducio.bench.e2e import offload_mode, requested_offload
    from reducio.bench.isolate import BenchmarkError

    assert [requested_offload(v) for v in (False, None, True, "copy", "pinned")] == [None, None, "copy", "copy", "pinned"]
    # what runs: diffusers' model CPU offload, which copies both ways (no pinned mode)
    assert [offload_mode(v) for v in (False, None, True, "copy", "pinned")] == \
        [None, None, "copy", "copy", "copy"]
    with pytest.raises(BenchmarkError, match="offload must be 'copy', 'pinned' or off, got 'pin'"):
        offload_mode("pin")
