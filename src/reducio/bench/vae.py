"""Benchmark 1: video VAEs side by side - encode / decode time, peak memory and the latent each
produces for the same clip.

Models: Reducio-VAE (a `VAEConfig` preset, ft4 by default) and the peers of `bench.peers`
(LTX-Video, Wan 2.1, CogVideoX), all with random weights. Every model gets the same seeded clip
(1, 3, T, H, W) in [-1, 1]: Reducio the first 16 frames, the peers the nearest count they accept
(17). Each model runs in its own fresh process (`isolate`) so its peak resident memory is its own.

`tile=True` times Reducio's 1024 px path on one 320 x 320 tile (the ft4-1024 tile: 256 px + 25 %
overlap, which tiles a 1024 x 1024 clip 4 x 4) and extrapolates to the full frame by the ratio
of FLOPs counted on the meta device for the real tiled 1024 path; the result is labelled.
"""

from __future__ import annotations

import gc
import hashlib
import json
from typing import Any

import torch

from reducio.bench.defaults import DEFAULT_MODELS
from reducio.bench.env import (dtype_name, environment, hardware_label, parse_dtype, resolve_device,
    set_threads)
from reducio.bench.flops import count_flops
from reducio.bench.isolate import BenchmarkError, run_measurement
from reducio.bench.memory import PeakMemory, current_mib, process_peak_rss_mib
from reducio.bench.peers import PEERS, decode_peer, encode_peer
from reducio.bench.report import markdown_table
from reducio.bench.timing import time_fn
from reducio.models.vae import ReducioVAE, VAEConfig

REDUCIO_PREFIX = "reducio-"      # model keys: "reducio-ft4", "reducio-tiny", ...
TILE_SIZE = 320                   # ft4-1024: tile_sample_min_size 256 * (1 + 0.25)




def reducio_config(key: str):
    """The VAEConfig of a model key `reducio-<preset>[@field=value,...]`: a preset, optionally with
    fields replaced (e.g. `reducio-ft4-1024@decoder_channels=64`: a narrower decoder)."""
    name, _, changes = key.removeprefix(REDUCIO_PREFIX).partition("@")
    config = VAEConfig.preset(name)
    if not changes:
        return config
    overrides = {}
    for item in changes.split(","):
        field_name, sep, value = item.partition("=")
        if not sep:
            raise BenchmarkError(f"{key!r}: overrides after '@' are field=value pairs separated by commas, "
                                 f"e.g. reducio-ft4-1024@decoder_channels=64; got {item!r}")
        try:
            overrides[field_name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[field_name] = value
    return VAEConfig.from_dict({**config.to_dict(), **overrides})


def frames_for(key: str, requested: int) -> int:
    """Frames the model takes for a clip of `requested` frames."""
    if key.startswith(REDUCIO_PREFIX):
        window = reducio_config(key).frames
        return max(window, requested // window * window)
    if key not in PEERS:
        raise BenchmarkError(f"unknown VAE {key!r}; valid: reducio-<preset> "
                             f"(ft4, ft2, tiny, ...) or {sorted(PEERS)}")
    return PEERS[key].valid_frames(requested)


def make_clip(frames: int, size: int, seed: int, batch: int = 1) -> torch.Tensor:
    """The shared input: uniform noise in [-1, 1], (B, 3, frames, size, size), fp32 on the CPU.
    Generated for the longest clip; shorter ones take its first frames, so every model sees the
    same pixels."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, frames, size, size, generator=g) * 2 - 1


def checksum(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def latent_stats(latent_shape: tuple[int, ...], frames: int, height: int, width: int,
                 dtype: torch.dtype, extra_values: int = 0) -> dict:
    """Positions, values, bytes and compression of one clip's latent (C, t, h, w)."""
    c, t, h, w = latent_shape
    values = c * t * h * w
    pixels = 3 * frames * height * width
    item = torch.empty((), dtype=dtype).element_size()
    stats = {"latent_shape": [c, t, h, w], "positions": t * h * w, "values": values,
             "bytes": values * item, "bytes_dtype": dtype_name(dtype), "pixel_values": pixels,
             "compression_values": pixels / values,
             "compression_positions": frames * height * width / (t * h * w)}
    if extra_values:
        # Reducio's decoder also needs the content frame: count it for an honest storage ratio.
        stats.update(extra_values=extra_values,
                     compression_values_incl_extra=pixels / (values + extra_values))
    return stats


# ----------------------------------------------------------------------------- one model
def _reducio(key: str, dtype: torch.dtype, device: torch.device, tiling: bool | None):
    """Random-weight Reducio-VAE of a preset; tiling None keeps the preset's own setting (ft4-1024:
    on, the release's 1024 px path), True / False force it."""
    config = reducio_config(key)
    with torch.device(device):
        vae = ReducioVAE(config)
    vae.apply_runtime_settings(ReducioVAE.preset_runtime.get(key.removeprefix(REDUCIO_PREFIX).partition("@")[0], {}))
    vae = vae.to(dtype=dtype).eval()
    if tiling is True:
        vae.enable_tiling()   # the preset's tile size; ft4-1024 has it on already
    elif tiling is False:
        vae.disable_tiling()
    return vae


def measure_vae(*, model: str, size: int, frames: int, dtype: str = "fp32", device: str = "cpu",
                seed: int = 0, warmup: int = 0, repeats: int = 1, threads: int | None = None,
                batch: int = 1) -> dict:
    """Time and memory of one VAE on the shared clip (runs in its own process). JSON-able dict."""
    set_threads(threads)
    torch_dtype, dev = parse_dtype(dtype), resolve_device(device)
    used_frames = frames_for(model, frames)
    clip = make_clip(max(frames, used_frames), size, seed, batch)[:, :, :used_frames]
    record: dict[str, Any] = {"model": model, "frames": used_frames, "size": size,
                              "batch": batch, "input_sha256_16": checksum(clip),
                              "dtype": dtype_name(torch_dtype), "device": str(dev)}
    video = clip.to(device=dev, dtype=torch_dtype)
    with torch.no_grad():
        if model.startswith(REDUCIO_PREFIX):
            # the preset's tiling: ft4-1024 tiles (untiled 1024 px decode stopped with "CUDA error:
            # invalid argument" in upsample_nearest3d on an H200, torch 2.11: a >2^31-element tensor)
            vae = _reducio(model, torch_dtype, dev, tiling=None)
            record["tiled"] = bool(vae.use_tiling)
            record["parameters"] = sum(p.numel() for p in vae.parameters())
            record["memory_after_build_mib"] = current_mib(dev)
            with PeakMemory(dev) as mem_e:
                t_e, dist = time_fn(lambda: vae.encode(video).latent_dist, device=dev,
                                    warmup=warmup, repeats=repeats)
            image = vae.content_frames(video)[:, :, 0]                  # B 3 H W
            with PeakMemory(dev) as mem_c:
                t_c, feats = time_fn(lambda: vae.encode_content(image), device=dev,
                                     warmup=warmup, repeats=repeats)
            latent = vae.normalize_latent(dist.mode())                  # B C t h w
            with PeakMemory(dev) as mem_d:
                t_d, recon = time_fn(lambda: vae.decode(latent, feats).sample, device=dev,
                                     warmup=warmup, repeats=repeats)
            record["phases"] = {"encode": {"time": t_e.to_dict(), "memory": mem_e.to_dict()},
                                "content": {"time": t_c.to_dict(), "memory": mem_c.to_dict()},
                                "decode": {"time": t_d.to_dict(), "memory": mem_d.to_dict()}}
            extra = 3 * size * size  # the content frame the decoder needs
        else:
            peer = PEERS[model]
            vae = peer.build(torch_dtype, dev)
            record["parameters"] = sum(p.numel() for p in vae.parameters())
            record["memory_after_build_mib"] = current_mib(dev)
            with PeakMemory(dev) as mem_e:
                t_e, latent = time_fn(lambda: encode_peer(vae, video), device=dev,
                                      warmup=warmup, repeats=repeats)
            with PeakMemory(dev) as mem_d:
                t_d, recon = time_fn(lambda: decode_peer(vae, latent), device=dev,
                                     warmup=warmup, repeats=repeats)
            record["phases"] = {"encode": {"time": t_e.to_dict(), "memory": mem_e.to_dict()},
                                "decode": {"time": t_d.to_dict(), "memory": mem_d.to_dict()}}
            extra = 0
    if tuple(recon.shape[2:]) != tuple(video.shape[2:]):
        raise BenchmarkError(f"{model}: decoded {tuple(recon.shape)} from input "
                             f"{tuple(video.shape)}; the frame rule in bench.peers is wrong")
    record["latent"] = latent_stats(tuple(latent.shape[1:]), used_frames, size, size,
                                    torch_dtype, extra_values=extra)
    record["process_peak_rss_mib"] = process_peak_rss_mib() if dev.type == "cpu" else None
    if dev.type == "cuda":
        # each phase reset the CUDA peak counter: the run's peak is the largest phase peak
        record["cuda_peak_allocated_mib"] = max(p["memory"]["peak_mib"]
                                                for p in record["phases"].values())
    record["threads"] = torch.get_num_threads()
    return record


def count_vae_flops(model: str, size: int, frames: int, tiled: bool = False) -> dict:
    """Encode / content / decode FLOPs of one clip, counted on the meta device (no compute)."""
    used = frames_for(model, frames)
    with torch.device("meta"), torch.no_grad():
        video = torch.empty(1, 3, used, size, size)
        if model.startswith(REDUCIO_PREFIX):
            vae = _reducio(model, torch.float32, torch.device("meta"), tiling=tiled).eval()
            image = torch.empty(1, 3, size, size)
            enc = count_flops(lambda: vae.encode(video))
            con = count_flops(lambda: vae.encode_content(image))
            feats = vae.encode_content(image)
            latent = torch.empty(1, *vae.latent_shape(used, size, size))
            dec = count_flops(lambda: vae.decode(latent, feats))
            return {"encode": enc, "content": con, "decode": dec, "total": enc + con + dec,
                    "latent_shape": list(latent.shape[1:])}
        vae = PEERS[model].build(torch.float32, torch.device("meta"))
        enc = count_flops(lambda: encode_peer(vae, video))
        latent = encode_peer(vae, video)
        dec = count_flops(lambda: decode_peer(vae, latent))
        return {"encode": enc, "content": 0, "decode": dec, "total": enc + dec,
                "latent_shape": list(latent.shape[1:])}


def flops_table(models: tuple[str, ...], size: int, frames: int = 16) -> dict:
    """FLOPs and latent of one clip per model, counted on the meta device: no compute, the same
    on every machine. Reducio models at or above 320 px use their tiled path when the preset
    tiles (ft4-1024)."""
    rows = []
    for key in models:
        used = frames_for(key, frames)
        tiled = key.startswith(REDUCIO_PREFIX) and bool(ReducioVAE.preset_runtime.get(
            key.removeprefix(REDUCIO_PREFIX).partition("@")[0], {}).get("use_tiling"))
        flops = count_vae_flops(key, size, frames, tiled=tiled)
        extra = 3 * size * size if key.startswith(REDUCIO_PREFIX) else 0
        rows.append({"model": key, "frames": used, "size": size, "flops": flops,
                     "latent": latent_stats(tuple(flops["latent_shape"]), used, size, size,
                                            torch.float32, extra_values=extra)})
    return {"size": size, "frames_requested": frames, "rows": rows}


# ----------------------------------------------------------------------------- the comparison
def run_vae_benchmark(*, models: tuple[str, ...] = DEFAULT_MODELS, size: int | None = None,
                      frames: int = 16, dtype: str = "fp32", device: str | None = None,
                      quick: bool = False, tile: bool = False, isolated: bool | None = None,
                      threads: int | None = None, warmup: int | None = None,
                      repeats: int | None = None, seed: int = 0, flops: bool = True,
                      flops_only: bool = False, tile_model: str = "reducio-ft4-1024",
                      progress=print) -> dict:
    """Run every model on the same clip, one after the other; returns the JSON record.

    Defaults: 256 px (128 with `quick`); on CPU each model runs once (warm-up 0, repeats 1: a
    full-size clip takes minutes) in its own process; on a GPU warm-up 1, repeats 3, in-process
    (CUDA peak counters are per process anyway, and reset per phase). `flops_only`: count FLOPs
    and latent sizes on the meta device, time nothing (any size, any machine, seconds).
    """
    dev = resolve_device(device)
    size = size or (128 if quick else 256)
    parse_dtype(dtype)
    for key in models:
        frames_for(key, frames)           # unknown names fail here, before any model runs
    if size % 32 or size < 32:
        raise BenchmarkError(f"--size {size}: every VAE here needs a multiple of 32 px "
                             f"(Reducio-VAE and LTX-Video down-sample by 32); use "
                             f"{max(size // 32, 1) * 32}")
    cpu = dev.type == "cpu"
    isolated = cpu if isolated is None else isolated
    warmup = (0 if cpu else 1) if warmup is None else warmup
    repeats = (1 if cpu else 3) if repeats is None else repeats
    set_threads(threads)
    env = environment(dev)
    if flops_only:
        return {"benchmark": "vae-flops", "environment": env,
                "settings": {"size": size, "frames": frames, "models": list(models)},
                "peer_config_check": {k: PEERS[k].check_defaults() for k in models if k in PEERS},
                "flops_table": flops_table(models, size, frames)}
    common = dict(size=size, frames=frames, dtype=dtype, device=str(dev), seed=seed,
                  warmup=warmup, repeats=repeats, threads=threads)
    results, failures = [], []
    for key in models:
        progress(f"[vae] {key}: {frames_for(key, frames)} frames at {size}x{size} ...")
        try:
            result = run_measurement("reducio.bench.vae:measure_vae", dict(model=key, **common),
                                     isolated=isolated, threads=threads)
        except (BenchmarkError, RuntimeError) as error:
            # one model failing (in its subprocess, or in-process on a GPU: out of memory, a CUDA
            # kernel refusing a >2^31-element tensor) must not throw away the minutes the others
            # took; it is recorded and the next model starts from a clean allocator
            progress(f"[vae] {key} FAILED: {_first_line(error)}")
            failures.append({"model": key, "error": str(error)[:4000],
                             "kind": type(error).__name__})
            _release_memory(dev)
            continue
        if flops:
            result["flops"] = count_vae_flops(key, size, frames)
        results.append(result)
    record = {"benchmark": "vae", "environment": env,
              "settings": dict(common, models=list(models), quick=quick, isolated=isolated,
                               input="uniform noise in [-1, 1], seeded; the peers' 17th frame "
                                     "extends the same clip"),
              "peer_config_check": {k: PEERS[k].check_defaults() for k in models if k in PEERS},
              "results": results, "failures": failures, "comparison": _compare(results)}
    if tile:
        progress(f"[vae] {tile_model}: one {TILE_SIZE}x{TILE_SIZE} tile ...")
        record["tile_1024"] = _tile_run(common, isolated, threads, tile_model)
    return record


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _release_memory(device: torch.device) -> None:
    """After an in-process failure: drop the failed call's tensors (held by the traceback until
    here) and hand cached blocks back so the next model's peak is its own."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def phase_seconds(result: dict, phase: str, key: str = "median_s") -> float:
    entry = result["phases"].get(phase)
    return 0.0 if entry is None else entry["time"][key]


def _compare(results: list[dict]) -> list[dict]:
    """Each model against the first Reducio model of the run (ratios > 1: slower / larger)."""
    ref = next((r for r in results if r["model"].startswith(REDUCIO_PREFIX)), None)
    rows = []
    for r in results:
        enc = phase_seconds(r, "encode") + phase_seconds(r, "content")
        dec = phase_seconds(r, "decode")
        cpu = sum(phase_seconds(r, p, "median_cpu_s") for p in ("encode", "content", "decode"))
        row = {"model": r["model"], "encode_s": enc, "decode_s": dec, "total_s": enc + dec,
               "total_cpu_s": cpu,
               "peak_delta_mib": max((p["memory"]["delta_mib"] or 0) for p in r["phases"].values())
               if any(p["memory"]["delta_mib"] is not None for p in r["phases"].values()) else None,
               "process_peak_mib": r.get("process_peak_rss_mib") or r.get("cuda_peak_allocated_mib")}
        if ref is not None:
            ref_enc = phase_seconds(ref, "encode") + phase_seconds(ref, "content")
            ref_dec = phase_seconds(ref, "decode")
            ref_cpu = sum(phase_seconds(ref, p, "median_cpu_s")
                          for p in ("encode", "content", "decode"))
            row.update(vs=ref["model"], encode_ratio=_div(enc, ref_enc),
                       decode_ratio=_div(dec, ref_dec), total_ratio=_div(enc + dec, ref_enc + ref_dec),
                       total_cpu_ratio=_div(cpu, ref_cpu),
                       latent_values_ratio=_div(r["latent"]["values"], ref["latent"]["values"]),
                       positions_ratio=_div(r["latent"]["positions"], ref["latent"]["positions"]))
        rows.append(row)
    return rows


def _div(a: float, b: float) -> float | None:
    return None if not b else a / b


def _tile_run(common: dict, isolated: bool, threads: int | None, key: str) -> dict:
    kwargs = dict(common, model=key, size=TILE_SIZE)
    tile = run_measurement("reducio.bench.vae:measure_vae", kwargs, isolated=isolated,
                           threads=threads)
    tile_flops = count_vae_flops(key, TILE_SIZE, common["frames"])
    full_flops = count_vae_flops(key, 1024, common["frames"], tiled=True)
    seconds = {p: phase_seconds(tile, p) for p in ("encode", "content", "decode")}
    factor = {p: _div(full_flops[p], tile_flops[p]) for p in seconds}
    estimate = {p: seconds[p] * factor[p] for p in seconds if factor[p] is not None}
    return {"model": key, "tile": tile, "tile_flops": tile_flops, "full_1024_flops": full_flops,
            "tiles_per_1024_frame": 16,
            "extrapolated_1024_s": estimate, "extrapolated_1024_total_s": sum(estimate.values()),
            "extrapolation": "EXTRAPOLATED, not measured: tile seconds x (FLOPs of the tiled 1024 "
                             "path / FLOPs of one 320 px tile), per phase, both counted on the "
                             "meta device; assumes time proportional to FLOPs"}


# ----------------------------------------------------------------------------- tables
def vae_tables(record: dict) -> str:
    """Markdown: time / memory / FLOPs table, then the latent table."""
    if "flops_table" in record:
        return _flops_tables(record)

    env, s = record["environment"], record["settings"]
    rows = []
    for r, c in zip(record["results"], record["comparison"]):
        f = r.get("flops", {})
        rows.append([r["model"], r["frames"], c["encode_s"], c["decode_s"], c["total_s"],
                     c.get("total_ratio"), c["total_cpu_s"], c.get("total_cpu_ratio"),
                     c["peak_delta_mib"], c["process_peak_mib"],
                     f.get("encode", 0) / 1e9 + f.get("content", 0) / 1e9 if f else None,
                     f.get("decode", 0) / 1e9 if f else None, r["parameters"] / 1e6])
    head = (f"VAE encode + decode, one clip at {s['size']}x{s['size']}, batch 1, {s['dtype']} on "
            f"{hardware_label(env)}; warm-up {s['warmup']}, repeats {s['repeats']} (median); "
            f"{'each model in a fresh process' if s['isolated'] else 'in-process'}. "
            "Reducio encode = 3D encoder + content (2D) encoder.")
    table1 = markdown_table(
        ["model", "frames", "encode s", "decode s", "total s", "x Reducio", "total CPU s",
         "CPU x Reducio", "peak +MiB", "process peak MiB", "enc GFLOP", "dec GFLOP", "params M"],
        rows)
    lrows = []
    for r, c in zip(record["results"], record["comparison"]):
        lat = r["latent"]
        lrows.append([r["model"], r["frames"], "x".join(map(str, lat["latent_shape"])),
                      lat["positions"], lat["values"], lat["bytes"],
                      lat["compression_values"], lat.get("compression_values_incl_extra"),
                      c.get("latent_values_ratio"), c.get("positions_ratio")])
    table2 = markdown_table(
        ["model", "frames", "latent C x t x h x w", "positions", "values", f"bytes ({s['dtype']})",
         "pixels / value", "incl. content frame", "values x Reducio", "positions x Reducio"],
        lrows)
    out = [head, "", table1, "", "Latent of the same clip:", "", table2]
    if "tile_1024" in record:
        t = record["tile_1024"]
        ph = t["tile"]["phases"]
        out += ["", f"1024 px path ({t['model']}): one {TILE_SIZE}x{TILE_SIZE} tile measured "
                    f"(encode {ph['encode']['time']['median_s']:.1f} s, content "
                    f"{ph['content']['time']['median_s']:.1f} s, decode "
                    f"{ph['decode']['time']['median_s']:.1f} s); 16x1024x1024 EXTRAPOLATED by "
                    f"FLOPs: {t['extrapolated_1024_total_s']:.0f} s "
                    f"({t['full_1024_flops']['total'] / 1e12:.1f} TFLOP counted)."]
    for failure in record.get("failures", []):
        first = failure["error"].strip().splitlines()[0] if failure["error"].strip() else ""
        out += ["", f"FAILED: {failure['model']} ({failure.get('kind', 'error')}): {first}"]
    checks = record.get("peer_config_check", {})
    bad = {k: v["mismatches"] for k, v in checks.items() if not v["matches"]}
    out += ["", "Peer configs = diffusers class defaults, checked against the released config.json: "
                + ("all match." if not bad else f"MISMATCH {bad}")]
    return "\n".join(out)


def _flops_tables(record: dict) -> str:
    t = record["flops_table"]
    ref = t["rows"][0]
    rows = [[r["model"], r["frames"], "x".join(map(str, r["latent"]["latent_shape"])),
             r["latent"]["positions"], r["latent"]["values"], r["latent"]["compression_values"],
             (r["flops"]["encode"] + r["flops"]["content"]) / 1e12, r["flops"]["decode"] / 1e12,
             r["flops"]["total"] / 1e12, r["flops"]["total"] / ref["flops"]["total"]]
            for r in t["rows"]]
    return "\n".join([
        f"FLOPs per clip at {t['size']}x{t['size']} (counted on the meta device; no timing):", "",
        markdown_table(["model", "frames", "latent C x t x h x w", "positions", "values",
                        "pixels / value", "encode TFLOP", "decode TFLOP", "total TFLOP",
                        f"x {ref['model']}"], rows)])
