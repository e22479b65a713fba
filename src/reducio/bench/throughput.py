"""Benchmark 4: throughput of latent extraction and of DiT training.

Extraction (clips/s): per batch of 16-frame clips, the Reducio-VAE motion latent (encode ->
posterior mode -> `normalize_latent`, what `pipelines.extract.ClipEncoder` stores) plus the DiT's
content condition of the middle frame (the pooled-RGB stand-in for the tiny preset, a random-weight
SD-VAE encoder for ft4, as `reducio extract --content-encoder` would use). Text and semantic
encoders are left out: they depend on the captioning setup, not on the VAE.

Training (samples/s, tokens/s, MFU): `training.dit_objective.DiTObjective.training_step` - the
step `reducio train dit` runs (noise, condition dropout, DiT forward, MSE, backward, grad clip,
AdamW) - under accelerate with the run's mixed precision, on random latents and conditions of
the shapes the shards hold. MFU = 3 x analytic forward FLOPs (backward = 2 x forward; gradient
checkpointing's recompute not counted) per second / peak (`flops.PeakEstimate`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from reducio.bench.dit import condition_lengths, grid_for
from reducio.bench.e2e_components import SD_VAE, build_sd_content
from reducio.bench.env import (dtype_name, environment, hardware_label, parse_dtype, resolve_device,
    set_threads)
from reducio.bench.flops import dit_forward_flops, peak_estimate
from reducio.bench.isolate import BenchmarkError, run_measurement
from reducio.bench.memory import PeakMemory, process_peak_rss_mib
from reducio.bench.report import markdown_table
from reducio.bench.timing import time_fn
from reducio.bench.vae import _reducio, make_clip
from reducio.conditioning import PooledRGBContentEncoder
from reducio.models.dit import DiTConfig
from reducio.training.config import DiTModelSection, DiTTrainConfig, RunSection
from reducio.training.dit_objective import DiTObjective
from reducio.training.loop import make_accelerator

EXTRACT_SIZES = {"tiny": 64, "ft4": 256, "ft2": 256}


# ----------------------------------------------------------------------------- extraction
def _content_encoder(preset: str, device: torch.device, dtype: torch.dtype):
    if preset == "tiny":
        return PooledRGBContentEncoder()

    return build_sd_content(SD_VAE, device, dtype)


def measure_extraction(*, preset: str, size: int, batch_sizes: list[int], dtype: str = "fp32",
                       device: str = "cpu", warmup: int = 0, repeats: int = 1,
                       threads: int | None = None, seed: int = 0) -> dict:
    set_threads(threads)
    dev, torch_dtype = resolve_device(device), parse_dtype(dtype)
    vae = _reducio(f"reducio-{preset}", torch_dtype, dev, tiling=False)
    content_encoder = _content_encoder(preset, dev, torch_dtype)
    frames = vae.config.frames
    rows = []
    with torch.no_grad():
        for batch in batch_sizes:
            video = make_clip(frames, size, seed, batch).to(device=dev, dtype=torch_dtype)

            def extract():
                latent = vae.normalize_latent(vae.encode(video).latent_dist.mode())  # B C t h w
                frame = video[:, :, vae.content_frame_index(frames)]               # B 3 H W
                return latent, content_encoder.encode(frame)                       # B c H/8 W/8

            with PeakMemory(dev) as mem:
                timing, (latent, content) = time_fn(extract, device=dev, warmup=warmup,
                                                    repeats=repeats)
            rows.append({"batch": batch, "time": timing.to_dict(), "memory": mem.to_dict(),
                         "clips_per_s": batch / timing.median_s,
                         "clips_per_cpu_s": batch / timing.median_cpu_s,
                         "latent_shape": list(latent.shape[1:]),
                         "content_shape": list(content.shape[1:])})
    return {"preset": preset, "size": size, "frames": frames, "dtype": dtype_name(torch_dtype),
            "device": str(dev), "content_encoder": type(content_encoder).__name__,
            "rows": rows, "threads": torch.get_num_threads(),
            "process_peak_rss_mib": process_peak_rss_mib() if dev.type == "cpu" else None}


# ----------------------------------------------------------------------------- training
def _train_batch(config, grid, size: int, batch: int, device, seed: int) -> dict[str, torch.Tensor]:
    """A batch as LatentShardDataset yields it, all conditions stored."""
    g = torch.Generator().manual_seed(seed)
    lens = condition_lengths(config)
    out = {"latent": torch.randn(batch, config.in_channels, *grid, generator=g),
           "content_frame": torch.rand(batch, 3, size, size, generator=g) * 2 - 1}
    if config.text_dim:
        out["text"] = torch.randn(batch, lens["text_tokens"], config.text_dim, generator=g)
        out["text_mask"] = torch.ones(batch, lens["text_tokens"], dtype=torch.bool)
    if config.semantic_dim:
        out["semantic"] = torch.randn(batch, lens["semantic_tokens"], config.semantic_dim, generator=g)
    if config.content_channels:
        out["content_latent"] = torch.randn(batch, config.content_channels, size // 8, size // 8,
                                            generator=g)
    return {k: v.to(device) for k, v in out.items()}


def measure_training(*, preset: str, size: int, batch: int, steps: int = 3, warmup: int = 1,
                     mixed_precision: str = "no", device: str = "cpu",
                     gradient_checkpointing: bool = False, threads: int | None = None,
                     seed: int = 0) -> dict:
    """Time `steps` DiTObjective training steps after `warmup` ones (own process)."""
    set_threads(threads)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    config = DiTConfig.preset(preset)
    run = RunSection(mixed_precision=mixed_precision, gradient_checkpointing=gradient_checkpointing,
                     cpu=dev.type == "cpu")
    train_config = DiTTrainConfig(model=DiTModelSection(preset=preset), train=run)
    info = {"latent_channels": config.in_channels, "text_dim": config.text_dim,
            "has_semantic": config.semantic_dim is not None, "semantic_dim": config.semantic_dim,
            "has_content_latent": config.content_channels is not None,
            "content_channels": config.content_channels, "vae": "bench-random"}
    accelerator = make_accelerator(run)
    objective = DiTObjective(train_config, info)
    objective.setup(accelerator)
    grid = grid_for("reducio", size)
    data = _train_batch(config, grid, size, batch, accelerator.device, seed)
    step_counter = iter(range(10**9))
    with PeakMemory(accelerator.device) as mem:
        timing, metrics = time_fn(lambda: objective.training_step(data, next(step_counter)),
                                  device=accelerator.device, warmup=warmup, repeats=steps)
    fwd = dit_forward_flops(config, grid, batch=batch, content_hw=(size, size),
                            **condition_lengths(config)).total
    compute = torch.bfloat16 if mixed_precision == "bf16" else (
        torch.float16 if mixed_precision == "fp16" else torch.float32)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    peak = peak_estimate(dev, compute, gpu_name=gpu)
    median, median_cpu = timing.median_s, timing.median_cpu_s
    model_flops = 3 * fwd
    achieved_basis = model_flops / (median_cpu if peak.basis == "cpu" else median) / 1e12
    tokens = math.prod(grid)
    return {"preset": preset, "size": size, "batch": batch, "tokens_per_sample": tokens,
            "mixed_precision": mixed_precision, "gradient_checkpointing": gradient_checkpointing,
            "device": str(accelerator.device), "time": timing.to_dict(), "memory": mem.to_dict(),
            "samples_per_s": batch / median, "tokens_per_s": batch * tokens / median,
            "model_flops_per_step": model_flops, "achieved_tflops": model_flops / median / 1e12,
            "peak": peak.to_dict(), "mfu": achieved_basis / peak.tflops,
            "last_metrics": metrics, "parameters": sum(p.numel() for p in objective.params),
            "threads": torch.get_num_threads(),
            "process_peak_rss_mib": process_peak_rss_mib() if dev.type == "cpu" else None}


# ----------------------------------------------------------------------------- the run
def run_throughput_benchmark(*, vae_presets: tuple[str, ...] | None = None,
                             dit_presets: tuple[str, ...] | None = None,
                             batch_sizes: tuple[int, ...] = (1, 4), size: int | None = None,
                             train_batch: int | None = None, train_steps: int | None = None,
                             dtype: str | None = None, device: str | None = None,
                             quick: bool = False, isolated: bool | None = None,
                             threads: int | None = None, warmup: int | None = None,
                             repeats: int | None = None, seed: int = 0, progress=print) -> dict:
    """Extraction for each VAE preset and batch size, training for each DiT preset.

    CPU defaults: VAE tiny (ft4 extraction at 256 px costs minutes per clip here: ask for it with
    vae_presets), DiT tiny, fp32, train batch 8 at 64 px, 3 timed steps. GPU: tiny + ft4,
    tiny + reducio-dit-1.2b at 256 px, bf16 mixed precision, batch 16, 10 timed steps.
    """
    dev = resolve_device(device)
    cpu = dev.type == "cpu"
    vae_presets = vae_presets or (("tiny",) if cpu or quick else ("tiny", "ft4"))
    dit_presets = dit_presets or (("tiny",) if cpu or quick else ("tiny", "reducio-dit-1.2b"))
    dtype = dtype or ("fp32" if cpu else "bf16")
    isolated = cpu if isolated is None else isolated
    warmup = (1 if cpu else 2) if warmup is None else warmup
    repeats = (2 if cpu else 5) if repeats is None else repeats
    train_steps = train_steps or (3 if cpu else 10)
    set_threads(threads)
    record: dict[str, Any] = {"benchmark": "throughput", "environment": environment(dev),
                              "settings": {"dtype": dtype, "batch_sizes": list(batch_sizes),
                                           "isolated": isolated, "warmup": warmup,
                                           "repeats": repeats, "train_steps": train_steps},
                              "extraction": [], "training": [], "failures": []}
    for preset in vae_presets:
        px = size or EXTRACT_SIZES.get(preset, 256)
        progress(f"[throughput] extraction {preset} at {px} px, batches {list(batch_sizes)} ...")
        try:
            record["extraction"].append(run_measurement(
                "reducio.bench.throughput:measure_extraction",
                dict(preset=preset, size=px, batch_sizes=list(batch_sizes), dtype=dtype,
                     device=str(dev), warmup=warmup, repeats=repeats, threads=threads, seed=seed),
                isolated=isolated, threads=threads))
        except BenchmarkError as error:
            progress(f"[throughput] FAILED: {error}")
            record["failures"].append({"extraction": preset, "error": str(error)})
    for preset in dit_presets:
        px = size or (64 if preset == "tiny" else 256)
        batch = train_batch or (8 if cpu else 16)
        mixed = "no" if dtype == "fp32" else dtype
        progress(f"[throughput] training {preset} at {px} px, batch {batch}, {mixed} ...")
        try:
            record["training"].append(run_measurement(
                "reducio.bench.throughput:measure_training",
                dict(preset=preset, size=px, batch=batch, steps=train_steps, warmup=warmup,
                     mixed_precision=mixed, device=str(dev), threads=threads, seed=seed),
                isolated=isolated, threads=threads))
        except BenchmarkError as error:
            progress(f"[throughput] FAILED: {error}")
            record["failures"].append({"training": preset, "error": str(error)})
    return record


def throughput_tables(record: dict) -> str:
    hw = hardware_label(record["environment"])
    ext = [[e["preset"], e["size"], r["batch"], e["dtype"], r["time"]["median_s"],
            r["clips_per_s"], r["clips_per_cpu_s"], "x".join(map(str, r["latent_shape"])),
            e["content_encoder"], r["memory"]["delta_mib"]]
           for e in record["extraction"] for r in e["rows"]]
    train = [[t["preset"], t["size"], t["batch"], t["tokens_per_sample"], t["mixed_precision"],
              t["time"]["median_s"], t["samples_per_s"], t["tokens_per_s"], t["achieved_tflops"],
              100 * t["mfu"], t["peak"]["source"], t["parameters"] / 1e6]
             for t in record["training"]]
    out = [f"Latent extraction (VAE encode + content condition) on {hw}:", "",
           markdown_table(["VAE", "px", "batch", "dtype", "s/batch", "clips/s", "clips/CPU-s",
                           "latent", "content encoder", "peak +MiB"], ext), "",
           f"DiT training step (DiTObjective.training_step, AdamW) on {hw}:", "",
           markdown_table(["DiT", "px", "batch", "tokens/sample", "precision", "s/step",
                           "samples/s", "tokens/s", "TFLOP/s", "MFU %", "peak from", "params M"],
                          train)]
    if record["failures"]:
        out += ["", f"FAILED: {record['failures']}"]
    return "\n".join(out)
