"""Benchmark 2: Reducio-DiT time per denoising step, peak memory, FLOPs and fraction of peak, over
Reducio latents and, side by side, over the latent grid a conventional 4x8x8 VAE gives for the
same clip (same transformer, same conditions; only the token count differs).

For a 16-frame clip of S x S pixels:
    Reducio-VAE ft4      16 x 4 x S/32 x S/32   ->  256 tokens at 256 px, 4,096 at 1024 px
    a 4x8x8 VAE          16 x 4 x S/8  x S/8    ->  4,096 tokens at 256 px, 65,536 at 1024 px
(16 latent channels for both, so the transformer is unchanged; patch size 1.)

Conditions as the preset expects them: text tokens (120 for T5-XXL widths, 64 for MiniLM), image
semantic tokens (256 for OpenCLIP ViT-H, 64 for the pixel patches), the content latent of an
S x S frame (S/8 x S/8; Fig. 2 split when the preset says so).

Where the full model would take too long (`max_tflop` per measured call, CPU default 2), a copy
with fewer blocks is timed and scaled by the FLOP ratio to the full depth (every block costs the
same); such rows say `extrapolated` and from which depth. Grids where even one block exceeds the
budget get FLOPs only. One fresh process per (dtype, depth) model.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from reducio.bench.env import (dtype_name, environment, hardware_label, parse_dtype, resolve_device,
    set_threads)
from reducio.bench.flops import dit_forward_flops, peak_estimate
from reducio.bench.isolate import BenchmarkError, run_measurement
from reducio.bench.memory import PeakMemory, current_mib, process_peak_rss_mib
from reducio.bench.report import markdown_table
from reducio.bench.timing import time_fn
from reducio.models.dit import DiTConfig, ReducioDiT, dit_parameter_count
from reducio.models.vae import VAEConfig

_FT4 = VAEConfig.preset("ft4")
# (time, space) down-sampling of each latent grid: the release's ft4 Reducio-VAE, and a typical
# 4x8x8 video VAE (4x in time, 8x in space) for comparison.
GRIDS = {"reducio": (_FT4.time_downsample, _FT4.space_downsample), "vae-4x8x8": (4, 8)}


def grid_for(kind: str, size: int, frames: int = 16) -> tuple[int, int, int]:
    """(t, h, w) latent grid of a frames x size x size clip for "reducio" or "vae-4x8x8"."""
    time_down, space_down = GRIDS[kind]
    return (frames // time_down, size // space_down, size // space_down)


def condition_lengths(config: DiTConfig) -> dict[str, int]:
    """Text and semantic token counts of the encoders the preset was built for."""
    text = 0 if config.text_dim is None else (120 if config.text_dim == 4096 else 64)
    semantic = 0 if config.semantic_dim is None else (256 if config.semantic_dim == 1280 else 64)
    return {"text_tokens": text, "semantic_tokens": semantic}


def step_flops(config: DiTConfig, grid: tuple[int, int, int], size: int, batch: int = 1) -> float:
    return dit_forward_flops(config, grid, batch=batch, content_hw=(size, size),
                             **condition_lengths(config)).total


def _inputs(config: DiTConfig, grid, size: int, batch: int, dtype, device, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    lens = condition_lengths(config)

    def rand(*shape):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)

    out: dict[str, Any] = {"latent": rand(batch, config.in_channels, *grid)}
    if lens["text_tokens"]:
        out["text"] = rand(batch, lens["text_tokens"], config.text_dim)
    if lens["semantic_tokens"]:
        out["semantic"] = rand(batch, lens["semantic_tokens"], config.semantic_dim)
    if config.content_channels is not None:
        out["content"] = rand(batch, config.content_channels, size // 8, size // 8)
    return out


def build_dit(config: DiTConfig, dtype: torch.dtype, device: torch.device):
    """Random-weight ReducioDiT built directly in `dtype` on `device` (no fp32 copy of a bf16
    model, so the peak is the model's own)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype if dtype.is_floating_point else previous)
    try:
        with torch.device(device):
            model = ReducioDiT(config)
    finally:
        torch.set_default_dtype(previous)
    return model.to(dtype=dtype).eval()


def measure_dit(*, preset: str, depth: int | None, cases: list[dict], dtype: str = "fp32",
                device: str = "cpu", warmup: int = 0, repeats: int = 1, threads: int | None = None,
                seed: int = 0, batch: int = 1) -> dict:
    """Time one forward per case ({"grid_kind", "size", "frames"}) with one model (own process)."""
    set_threads(threads)
    torch_dtype, dev = parse_dtype(dtype), resolve_device(device)
    full = DiTConfig.preset(preset)
    config = full if depth is None or depth >= full.depth else full.replace(depth=depth)
    model = build_dit(config, torch_dtype, dev)
    record: dict[str, Any] = {"preset": preset, "depth": config.depth, "full_depth": full.depth,
                              "dtype": dtype_name(torch_dtype), "device": str(dev),
                              "parameters": sum(p.numel() for p in model.parameters()),
                              "memory_after_build_mib": current_mib(dev), "cases": []}
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    record["peak"] = peak_estimate(dev, torch_dtype, gpu_name=gpu).to_dict()
    with torch.no_grad():
        for case in cases:
            grid = grid_for(case["grid_kind"], case["size"], case["frames"])
            x = _inputs(config, grid, case["size"], batch, torch_dtype, dev, seed)
            latent = x.pop("latent")
            with PeakMemory(dev) as mem:
                timing, _ = time_fn(lambda: model(latent, 500, **x), device=dev, warmup=warmup,
                                    repeats=repeats)
            flops = step_flops(config, grid, case["size"], batch)
            record["cases"].append({**case, "grid": list(grid), "tokens": math.prod(grid),
                                    "batch": batch, "time": timing.to_dict(),
                                    "memory": mem.to_dict(), "flops_measured_model": flops})
    record["process_peak_rss_mib"] = process_peak_rss_mib() if dev.type == "cpu" else None
    record["threads"] = torch.get_num_threads()
    return record


# ----------------------------------------------------------------------------- the comparison
def _plan_depth(full: DiTConfig, grid, size: int, batch: int, budget_tflop: float,
                depth: int | None) -> int | None:
    """Blocks to time for one case: the given depth, the full model if it fits the budget, the
    most blocks that fit, or None (FLOPs only) when one block is already over budget."""
    if depth is not None:
        return min(depth, full.depth)
    total = step_flops(full, grid, size, batch) / 1e12
    if total <= budget_tflop:
        return full.depth
    one = step_flops(full.replace(depth=1), grid, size, batch) / 1e12
    per_block = step_flops(full.replace(depth=2), grid, size, batch) / 1e12 - one
    fit = int((budget_tflop - (one - per_block)) // per_block)
    return fit if fit >= 1 else None


def run_dit_benchmark(*, preset: str | None = None, sizes: tuple[int, ...] | None = None,
                      frames: int = 16, dtype: str = "fp32", also_dtype: str | None = None,
                      device: str | None = None, quick: bool = False, depth: int | None = None,
                      max_tflop: float | None = None, cfg_passes: int = 1,
                      isolated: bool | None = None, threads: int | None = None,
                      warmup: int | None = None, repeats: int | None = None, seed: int = 0,
                      progress=print) -> dict:
    """Every (size, grid) case of `preset`, side by side; returns the JSON record.

    Defaults: reducio-dit-1.2b at 256 and 1024 px (quick: the tiny preset at 256 px); CPU:
    budget 2 TFLOP per timed call, warm-up 0 / repeats 1, one fresh process per model; GPU: no
    budget, warm-up 2 / repeats 5, in-process.
    """
    dev = resolve_device(device)
    cpu = dev.type == "cpu"
    preset = preset or ("tiny" if quick else "reducio-dit-1.2b")
    sizes = tuple(sizes or ((256,) if quick else (256, 1024)))
    budget = max_tflop if max_tflop is not None else (2.0 if cpu else math.inf)
    isolated = cpu if isolated is None else isolated
    warmup = (0 if cpu else 2) if warmup is None else warmup
    repeats = (1 if cpu else 5) if repeats is None else repeats
    set_threads(threads)
    full = DiTConfig.preset(preset)
    batch = cfg_passes

    plan: dict[tuple[str, int | None], list[dict]] = {}
    for size in sizes:
        for kind in GRIDS:
            grid = grid_for(kind, size, frames)
            space_down = GRIDS[kind][1]
            if grid[1] < 1 or size % space_down:
                raise BenchmarkError(f"--size {size} must be a multiple of {space_down} (the spatial factor "
                                     f"of the {kind} latent grid); use {max(size // space_down, 1) * space_down}")
            d = _plan_depth(full, grid, size, batch, budget, depth)
            plan.setdefault((dtype, d), []).append(
                {"grid_kind": kind, "size": size, "frames": frames})
    if also_dtype:
        size = min(sizes)
        d = _plan_depth(full, grid_for("reducio", size, frames), size, batch, budget, depth)
        plan.setdefault((also_dtype, d), []).append(
            {"grid_kind": "reducio", "size": size, "frames": frames, "dtype_comparison": True})

    common = dict(preset=preset, device=str(dev), warmup=warmup, repeats=repeats,
                  threads=threads, seed=seed, batch=batch)
    runs, rows = [], []
    for (run_dtype, d), cases in plan.items():
        if d is None:
            rows += [_row(full, c, None, run_dtype, batch) for c in cases]
            continue
        what = ", ".join(f"{c['grid_kind']}@{c['size']}" for c in cases)
        progress(f"[dit] {preset} depth {d}/{full.depth} {run_dtype}: {what} ...")
        try:
            result = run_measurement("reducio.bench.dit:measure_dit",
                                     dict(common, depth=d, cases=cases, dtype=run_dtype),
                                     isolated=isolated, threads=threads)
        except BenchmarkError as error:
            progress(f"[dit] FAILED: {error}")
            rows += [dict(_row(full, c, None, run_dtype, batch), error=str(error)) for c in cases]
            continue
        runs.append(result)
        rows += [_row(full, c, result, run_dtype, batch) for c in result["cases"]]
    rows.sort(key=lambda r: (r["size"], r["grid_kind"] != "reducio", r["dtype"] != dtype))
    return {"benchmark": "dit", "environment": environment(dev),
            "settings": dict(common, sizes=list(sizes), frames=frames, dtype=dtype,
                             also_dtype=also_dtype, cfg_passes=cfg_passes, isolated=isolated,
                             budget_tflop_per_call=None if math.isinf(budget) else budget,
                             conditions=condition_lengths(full)),
            "flops_formula": "reducio.bench.flops module docstring (matmuls only, 2 per MAC)",
            "rows": rows, "comparison": _compare(rows, dtype), "runs": runs}


def _row(full: DiTConfig, case: dict, result: dict | None, dtype: str, batch: int) -> dict:
    grid = grid_for(case["grid_kind"], case["size"], case["frames"])
    flops = dit_forward_flops(full, grid, batch=batch, content_hw=(case["size"],) * 2,
                              **condition_lengths(full))
    row = {"grid_kind": case["grid_kind"], "size": case["size"], "frames": case["frames"],
           "dtype": dtype, "latent_shape": [full.in_channels, *grid], "tokens": math.prod(grid),
           "context_tokens": flops.context_tokens, "flops_per_step": flops.total,
           "flops_breakdown": flops.to_dict(), "batch": batch,
           "weights_mib_full_model": _weights_mib(full, dtype), "measured": result is not None}
    if result is None:
        return dict(row, depth_measured=None, step_s=None, extrapolated=None,
                    note="FLOPs only: one block exceeds the per-call budget on this device")
    scale = flops.total / case["flops_measured_model"]
    median = case["time"]["median_s"]
    peak = result["peak"]["used_tflops"]
    cpu_basis = result["peak"]["basis"] == "cpu"
    achieved = case["flops_measured_model"] / median / 1e12
    # the fraction uses the same clock as the peak (see flops.PeakEstimate)
    achieved_basis = (case["flops_measured_model"] / case["time"]["median_cpu_s"] / 1e12
                      if cpu_basis else achieved)
    extrapolated = result["depth"] != full.depth
    return dict(row, depth_measured=result["depth"], measured_step_s=median,
                measured_step_cpu_s=case["time"]["median_cpu_s"], step_s=median * scale,
                extrapolated=extrapolated,
                extrapolation=(f"EXTRAPOLATED: depth {result['depth']} timed, x{scale:.2f} "
                               f"(FLOP ratio) to depth {full.depth}") if extrapolated else None,
                achieved_tflops=achieved, achieved_tflops_fraction_basis=achieved_basis,
                peak_tflops=peak, fraction_of_peak=achieved_basis / peak,
                peak_source=result["peak"]["source"], memory=case["memory"],
                process_peak_mib=result["process_peak_rss_mib"],
                memory_after_build_mib=result["memory_after_build_mib"])


def _weights_mib(config: DiTConfig, dtype: str) -> float:
    return dit_parameter_count(config) * torch.empty((), dtype=parse_dtype(dtype)).element_size() / 2**20


def _compare(rows: list[dict], dtype: str) -> list[dict]:
    """Per size: the 4x8x8 grid against Reducio's (same transformer, dtype, device)."""
    out = []
    for size in sorted({r["size"] for r in rows}):
        pick = {r["grid_kind"]: r for r in rows if r["size"] == size and r["dtype"] == dtype}
        red, vae = pick.get("reducio"), pick.get("vae-4x8x8")
        if not red or not vae:
            continue
        t_red, t_vae = red.get("step_s"), vae.get("step_s")
        out.append({"size": size, "tokens_reducio": red["tokens"], "tokens_4x8x8": vae["tokens"],
                    "tokens_ratio": vae["tokens"] / red["tokens"],
                    "flops_ratio": vae["flops_per_step"] / red["flops_per_step"],
                    "time_ratio": None if not t_red or not t_vae else t_vae / t_red,
                    "time_ratio_extrapolated": bool(red.get("extrapolated") or vae.get("extrapolated"))})
    return out


def dit_tables(record: dict) -> str:
    s = record["settings"]
    rows = []
    for r in record["rows"]:
        mem = r.get("memory") or {}
        rows.append([r["size"], r["grid_kind"], "x".join(map(str, r["latent_shape"])), r["tokens"],
                     r["dtype"], r["flops_per_step"] / 1e12, r.get("depth_measured"),
                     r.get("measured_step_s"), r.get("step_s"),
                     "extrapolated" if r.get("extrapolated") else
                     ("measured" if r["measured"] else "FLOPs only"),
                     r.get("achieved_tflops"), None if r.get("fraction_of_peak") is None
                     else 100 * r["fraction_of_peak"], mem.get("delta_mib"),
                     r.get("process_peak_mib"), r["weights_mib_full_model"]])
    head = (f"DiT {s['preset']} per denoising step ({s['cfg_passes']} forward pass(es), batch "
            f"{s['batch']}), {s['frames']} frames, on {hardware_label(record['environment'])}; "
            f"warm-up {s['warmup']}, repeats {s['repeats']}. Conditions: {s['conditions']} + "
            "content latent of the frame.")
    table = markdown_table(
        ["px", "latent grid", "C x t x h x w", "tokens", "dtype", "TFLOP/step", "blocks timed",
         "timed s", "s/step (full depth)", "how", "TFLOP/s", "% of peak", "peak +MiB",
         "process peak MiB", "weights MiB"], rows)
    comp = markdown_table(
        ["px", "tokens Reducio", "tokens 4x8x8", "tokens x", "FLOPs x", "time x", "time from"],
        [[c["size"], c["tokens_reducio"], c["tokens_4x8x8"], c["tokens_ratio"], c["flops_ratio"],
          c["time_ratio"], "n/a" if c["time_ratio"] is None else
          "extrapolated" if c["time_ratio_extrapolated"] else "measured"]
         for c in record["comparison"]])
    peaks = sorted({(r["peak_source"], round(r["peak_tflops"], 4)) for r in record["rows"]
                    if r.get("peak_source")})
    peak_line = "; ".join(f"{v:.4f} TFLOP/s ({k})" for k, v in peaks)
    return "\n".join([head, "", table, "", "4x8x8 grid vs Reducio grid (same transformer):", "",
                      comp, "", f"Peak used for the fraction: {peak_line or 'n/a'}."])
