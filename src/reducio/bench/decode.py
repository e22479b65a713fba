"""Benchmark: Reducio-VAE's decode of one clip in several execution variants, side by side.

The decode is most of a few-step generation at 1024 px, so its variants are measured
in one process on the same random weights, latent and content frame:

    tiled     the release's 1024 px path (320 px tiles, stride 256, blended): parity-exact
    untiled   the whole frame at once: ~35 % fewer FLOPs, NOT parity-exact (no tile blending, and
              the content cross-attention windows cover the full frame instead of a tile)
    +cl       channels-last 3D weights (NDHWC) for the 3D convolutions
    +compile  torch.compile of the decoder (inductor, default mode); its first call pays the compile

A variant is written `tiled`, `untiled+cl`, `untiled+cl+compile`, ... Each reports the median
decode time (content encoder included, as a generation runs it), the FLOPs counted on the meta
device for its path, the achieved TFLOP/s and fraction of the data-sheet peak, the peak memory
and the largest difference from the first variant with the same tiling (layout and compilation
must not change the result beyond rounding).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from reducio.bench.defaults import DEFAULT_VARIANTS
from reducio.bench.env import (dtype_name, environment, hardware_label, parse_dtype, resolve_device,
    set_threads)
from reducio.bench.flops import datasheet_peak
from reducio.bench.isolate import BenchmarkError
from reducio.bench.memory import PeakMemory
from reducio.bench.report import markdown_table
from reducio.bench.timing import time_fn
from reducio.bench.vae import _reducio, count_vae_flops



@dataclass(frozen=True)
class DecodeVariant:
    name: str
    tiled: bool
    channels_last: bool
    compiled: bool

    @classmethod
    def parse(cls, name: str) -> DecodeVariant:
        parts = name.strip().split("+")
        flags = set(parts[1:])
        unknown = flags - {"cl", "compile"}
        if parts[0] not in ("tiled", "untiled") or unknown or len(flags) != len(parts) - 1:
            raise BenchmarkError(f"unknown decode variant {name!r}: write tiled or untiled, then "
                                 "optionally +cl (channels-last 3D) and +compile, e.g. "
                                 "'untiled+cl+compile'")
        return cls(name=name.strip(), tiled=parts[0] == "tiled", channels_last="cl" in flags,
                   compiled="compile" in flags)


def set_conv3d_layout(module: nn.Module, channels_last: bool) -> int:
    """Store every Conv3d weight of `module` channels-last 3D (NDHWC) or contiguous; returns how
    many were converted. Convolutions then run in that layout (cuDNN follows the weight), the
    values are unchanged."""
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    count = 0
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            m.weight.data = m.weight.data.contiguous(memory_format=fmt)
            count += 1
    return count


def measure_decode(*, model: str = "reducio-ft4-1024", size: int = 1024, frames: int = 16,
                   variants: tuple[str, ...] = DEFAULT_VARIANTS, dtype: str = "bf16",
                   device: str = "cuda", warmup: int = 1, repeats: int = 3, seed: int = 0,
                   budget_s: float | None = None, threads: int | None = None) -> dict:
    """Time each decode variant in turn; variants past `budget_s` seconds are skipped (listed)."""
    set_threads(threads)
    parsed = [DecodeVariant.parse(v) for v in variants]
    if not parsed:
        raise BenchmarkError("no decode variants given")
    dev, torch_dtype = resolve_device(device), parse_dtype(dtype)
    env = environment(dev)
    peak = datasheet_peak(env.get("gpu"), dtype_name(torch_dtype)) if dev.type == "cuda" else None
    vae = _reducio(model, torch_dtype, dev, tiling=True)
    eager_decoder = vae.decoder
    g = torch.Generator().manual_seed(seed)
    latent_shape = vae.latent_shape(frames, size, size)
    latent = torch.randn(1, *latent_shape, generator=g).to(dev, torch_dtype)       # B C t h w
    image = (torch.rand(1, 3, size, size, generator=g) * 2 - 1).to(dev, torch_dtype)  # B 3 H W
    flops = {t: (lambda c: c["decode"] + c["content"])(count_vae_flops(model, size, frames, tiled=t))
             for t in {v.tiled for v in parsed}}
    started = time.perf_counter()
    references: dict[bool, tuple[str, torch.Tensor]] = {}
    rows: list[dict[str, Any]] = []
    for variant in parsed:
        row: dict[str, Any] = asdict(variant)
        elapsed = time.perf_counter() - started
        if budget_s is not None and elapsed > budget_s:
            row["skipped"] = f"time budget {budget_s:g} s spent ({elapsed:.0f} s)"
            rows.append(row)
            continue
        vae.enable_tiling() if variant.tiled else vae.disable_tiling()
        set_conv3d_layout(eager_decoder, variant.channels_last)
        if variant.compiled:
            torch._dynamo.reset()
            vae.decoder = torch.compile(eager_decoder)
        else:
            vae.decoder = eager_decoder
        try:
            with torch.no_grad():
                t0 = time.perf_counter()
                first = vae.decode(latent, image).sample
                if dev.type == "cuda":
                    torch.cuda.synchronize(dev)
                row["first_call_s"] = time.perf_counter() - t0
                del first
                with PeakMemory(dev) as mem:
                    timing, out = time_fn(lambda: vae.decode(latent, image).sample, device=dev,
                                          warmup=max(warmup - 1, 0), repeats=repeats)
        except (RuntimeError, torch.OutOfMemoryError) as error:   # e.g. out of memory untiled
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            rows.append(row)
            vae.decoder = eager_decoder
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            continue
        seconds = timing.median_s
        row.update(seconds=seconds, timing=timing.to_dict(), memory=mem.to_dict(),
                   tflop=flops[variant.tiled] / 1e12,
                   tflops_per_s=flops[variant.tiled] / 1e12 / seconds,
                   output_shape=list(out.shape))
        if peak:
            row["fraction_of_peak"] = row["tflops_per_s"] / peak
        out = out.float().cpu()
        row["finite"] = bool(torch.isfinite(out).all())   # a 32-bit index overflow shows as inf/NaN
        if variant.tiled not in references:
            references[variant.tiled] = (variant.name, out)
        else:
            ref_name, ref = references[variant.tiled]
            row["max_abs_diff"] = {"vs": ref_name, "value": (out - ref).abs().max().item()}
        if True in references and False in references and not variant.tiled:
            row["untiled_vs_tiled_mean_abs"] = (out - references[True][1]).abs().mean().item()
        rows.append(row)
        del out
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    vae.decoder = eager_decoder
    return {"benchmark": "decode", "environment": env,
            "settings": {"model": model, "size": size, "frames": frames,
                         "dtype": dtype_name(torch_dtype), "warmup": warmup, "repeats": repeats,
                         "seed": seed, "budget_s": budget_s, "datasheet_peak_tflops": peak,
                         "latent_shape": list(latent_shape)},
            "result": {"variants": rows}}


def decode_tables(record: dict) -> str:
    s = record["settings"]
    rows = record["result"]["variants"]
    base = next((r.get("seconds") for r in rows if r.get("seconds")), None)
    table = []
    for r in rows:
        if "seconds" not in r:
            table.append([r["name"], None, None, None, None, None, None, None,
                          r.get("error") or r.get("skipped")])
            continue
        diff = r.get("max_abs_diff")
        table.append([r["name"], r["seconds"], base / r["seconds"] if base else None, r["tflop"],
                      r["tflops_per_s"],
                      None if "fraction_of_peak" not in r else 100 * r["fraction_of_peak"],
                      r["memory"].get("delta_mib"), r["first_call_s"],
                      ("NON-FINITE values; " if not r.get("finite", True) else "") +
                      (f"max |diff| {diff['value']:.3g} vs {diff['vs']}" if diff else
                      ("reference" if "untiled_vs_tiled_mean_abs" not in r else
                       f"mean |diff| vs tiled {r['untiled_vs_tiled_mean_abs']:.3g}"))])
    head = (f"Decode of one {s['frames']}x{s['size']}x{s['size']} clip, {s['model']}, "
            f"{s['dtype']} on {hardware_label(record['environment'])}; median of {s['repeats']}; "
            "random weights (content encoder included).")
    return "\n".join([head, "", markdown_table(
        ["variant", "seconds", "speed-up", "TFLOP", "TFLOP/s", "% of peak", "peak +MiB",
         "first call s", "output"], table)])
