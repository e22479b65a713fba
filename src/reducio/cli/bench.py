"""`reducio bench vae|dit|e2e|throughput`: speed and memory benchmarks (docs/benchmarks.md).

Each prints a markdown table and writes a JSON record (hardware, versions, settings, raw timings)
to -o/--output, by default benchmarks/results/<benchmark>-<cpu|gpu>-<time>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reducio.cli.arguments import (
    integer, non_negative_int, non_negative_number, positive_int, positive_number, seed,
)

BENCHMARKS = {
    "vae": "encode/decode time, peak memory and latent size: Reducio-VAE vs LTX-Video, Wan 2.1, "
           "CogVideoX VAEs (random weights)",
    "dit": "DiT time per denoising step, memory, FLOPs and fraction of peak over Reducio latents "
           "vs a 4x8x8 VAE's latent grid",
    "e2e": "generation broken down by stage: text encode, stage 1 image, DiT loop, VAE decode",
    "decode": "Reducio-VAE decode variants side by side: tiled (release) vs untiled, "
              "channels-last, torch.compile",
    "throughput": "latent extraction clips/s and DiT training samples/s, tokens/s, MFU",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="speed / memory benchmarks (docs/benchmarks.md)",
                                   description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name, help_text in BENCHMARKS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
        globals()[f"_args_{name}"](p)
        p.set_defaults(func=run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if present)")
    p.add_argument("--dtype", default=None, help="fp32 | bf16 | fp16 (default: fp32 on CPU, "
                                                 "bf16 on GPU)")
    p.add_argument("--size", type=integer(32), nargs="+", default=None, help="frame height = width, px")
    p.add_argument("--quick", action="store_true", help="small sizes / fewer models (CPU checks)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--warmup", type=non_negative_int, default=None, help="untimed calls before timing")
    p.add_argument("--repeats", type=positive_int, default=None, help="timed calls (the median is reported)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("-o", "--output", type=Path, default=None, help="JSON result path")


def _args_vae(p: argparse.ArgumentParser) -> None:
    from reducio.bench.peers import DEFAULT_MODELS  # light: no model imports for --help

    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma list: reducio-<preset> (ft4, ft2, tiny) and ltx-video, wan-2.1, "
                        "cogvideox (default: %(default)s)")
    p.add_argument("--frames", type=positive_int, default=16,
                   help="clip length; peers get the nearest count they accept (17)")
    p.add_argument("--tile", action="store_true",
                   help="also time one 320 px tile of the 1024 px path (extrapolated, labelled)")
    p.add_argument("--in-process", action="store_true",
                   help="run every model in this process (default on GPU; CPU peaks then mix)")
    p.add_argument("--no-flops", action="store_true", help="skip the meta-device FLOP counts")
    p.add_argument("--flops-only", action="store_true",
                   help="count FLOPs and latent sizes on the meta device, time nothing")


def _args_dit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="reducio-dit-1.2b", help="DiT preset (default: %(default)s)")
    p.add_argument("--frames", type=positive_int, default=16)
    p.add_argument("--depth", type=positive_int, default=None,
                   help="time a copy with this many blocks and scale to the preset's depth "
                        "(labelled extrapolated); default: the full model where it fits")
    p.add_argument("--also-dtype", default=None,
                   help="a second dtype timed side by side at the smallest size (e.g. bf16)")
    p.add_argument("--max-tflop", type=positive_number, default=None,
                   help="per timed call; larger cases are timed depth-reduced and scaled "
                        "(default: 2 on CPU, unlimited on GPU)")
    p.add_argument("--cfg-passes", type=positive_int, default=1,
                   help="forward passes per denoising step (3 with text+image guidance)")
    p.add_argument("--in-process", action="store_true")


def _args_e2e(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", choices=("full", "tiny"), default=None,
                   help="full = the paper's 16x1024^2 with the 1.2B DiT (GPU); tiny = CPU-sized "
                        "(default: full on GPU, tiny on CPU)")
    p.add_argument("--frames", type=positive_int, default=16)
    p.add_argument("--vae", default=None, metavar="PRESET[@FIELD=VALUE,...]",
                   help="VAE preset (default: ft4-1024 at full scale, tiny at tiny scale), "
                        "optionally with config fields replaced, e.g. ft4-1024@decoder_channels=64 "
                        "(a narrower decoder: random weights, so its speed, not its quality)")
    p.add_argument("--steps", type=positive_int, nargs="+", default=None,
                   help="DiT denoising steps (default 20); several values time one generation "
                        "each with the same models and compiled graphs, e.g. --steps 25 8")
    p.add_argument("--vae-tiling", choices=("preset", "off"), default="preset",
                   help="preset: the VAE preset's tiling (ft4-1024: the release's 320 px tiles, "
                        "parity-exact); off: whole-frame decode, fewer FLOPs, not parity-exact")
    p.add_argument("--channels-last", action="store_true",
                   help="run the VAE decoder's 3D convolutions channels-last (NDHWC)")
    p.add_argument("--offload", nargs="?", const="copy", default=None, choices=("copy", "pinned"),
                   help="model CPU offload (diffusers' enable_model_cpu_offload): each stage's "
                        "models on the device only while it runs (the memory a smaller GPU needs), "
                        "copied both ways; 'pinned' is accepted and runs the same (diffusers has no "
                        "pinned mode)")
    p.add_argument("--compile-mode", default=None,
                   choices=("default", "reduce-overhead", "max-autotune",
                            "max-autotune-no-cudagraphs"),
                   help="torch.compile mode of the DiT (reduce-overhead = CUDA graphs)")
    p.add_argument("--stage1-steps", type=positive_int, default=None, help="image-model steps (default 20)")
    p.add_argument("--stage1-guidance", type=non_negative_number, default=None,
                   help="image-model guidance (default 4.5; <= 1 runs it without CFG, as a "
                        "distilled few-step image model such as PixArt-LCM would)")
    p.add_argument("--compile", nargs="?", const="dit", default="none", choices=("none", "dit", "all"),
                   help="torch.compile the DiT (--compile / --compile dit) or the DiT and the VAE "
                        "decoder (--compile all); the warm-up call pays the compile time (GPU)")


def _args_decode(p: argparse.ArgumentParser) -> None:
    from reducio.bench.decode import DEFAULT_VARIANTS

    p.add_argument("--model", default="reducio-ft4-1024", help="reducio-<VAE preset>")
    p.add_argument("--frames", type=positive_int, default=16)
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help="comma list: tiled|untiled, then +cl (channels-last 3D) and/or +compile "
                        "(default: %(default)s)")
    p.add_argument("--budget-s", type=positive_number, default=None,
                   help="skip the variants that would start after this many seconds")


def _args_throughput(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 4])
    p.add_argument("--vae-presets", default=None,
                   help="comma list of VAE presets for extraction (default: tiny,ft4; quick: tiny)")
    p.add_argument("--dit-presets", default=None,
                   help="comma list of DiT presets for training (default: tiny on CPU, "
                        "tiny,reducio-dit-1.2b on GPU)")
    p.add_argument("--train-steps", type=positive_int, default=None, help="timed training steps")


def run(args: argparse.Namespace) -> int:
    from reducio.bench.env import resolve_device
    from reducio.bench.report import default_output, write_json

    from reducio.bench.env import parse_dtype

    device = resolve_device(args.device)
    dtype = args.dtype or ("fp32" if device.type == "cpu" else "bf16")
    parse_dtype(dtype)  # a ConfigError naming the valid ones before anything is built
    runner = globals()[f"_run_{args.benchmark}"]
    record, tables = runner(args, str(device), dtype)
    record["command"] = getattr(args, "command_line", None) or "reducio bench " + " ".join(_argv(args))
    print(tables)
    path = args.output or default_output(args.benchmark, record["environment"],
                                         "quick" if args.quick else "")
    print(f"wrote {write_json(path, record)}")
    return 0


def _argv(args: argparse.Namespace) -> list[str]:
    import sys

    argv = sys.argv[1:]
    return argv[argv.index("bench") + 1:] if "bench" in argv else [args.benchmark]


def _one_size(args: argparse.Namespace) -> int | None:
    if args.size and len(args.size) > 1:
        from reducio.errors import ConfigError

        raise ConfigError(f"reducio bench {args.benchmark} takes one --size, got {args.size}")
    return args.size[0] if args.size else None


def _run_vae(args, device: str, dtype: str):
    from reducio.bench.vae import run_vae_benchmark, vae_tables

    record = run_vae_benchmark(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        size=_one_size(args), frames=args.frames, dtype=dtype, device=device, quick=args.quick,
        tile=args.tile, isolated=False if args.in_process else None, threads=args.threads,
        warmup=args.warmup, repeats=args.repeats, seed=args.seed, flops=not args.no_flops,
        flops_only=args.flops_only)
    return record, vae_tables(record)


def main(argv: list[str], command_line: str | None = None) -> int:
    """Run `reducio bench ARGV` without the full CLI (the benchmarks/*.py scripts use this)."""
    import logging
    import sys

    from reducio.errors import ReducioError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="reducio")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", *argv])
    args.command_line = command_line
    try:
        return args.func(args)
    except ReducioError as error:
        print(f"reducio bench: error: {error}", file=sys.stderr)
        return 1


def _run_dit(args, device: str, dtype: str):
    from reducio.bench.dit import dit_tables, run_dit_benchmark

    record = run_dit_benchmark(
        preset=None if args.quick and args.preset == "reducio-dit-1.2b" else args.preset,
        sizes=tuple(args.size) if args.size else None, frames=args.frames, dtype=dtype,
        also_dtype=args.also_dtype, device=device, quick=args.quick, depth=args.depth,
        max_tflop=args.max_tflop,
        cfg_passes=args.cfg_passes, isolated=False if args.in_process else None,
        threads=args.threads, warmup=args.warmup, repeats=args.repeats, seed=args.seed)
    return record, dit_tables(record)


def _run_e2e(args, device: str, dtype: str):
    from reducio.bench.e2e import e2e_tables, run_e2e_benchmark

    scale = args.scale or ("tiny" if args.quick or device == "cpu" else "full")
    steps = args.steps or [None]
    record = run_e2e_benchmark(scale=scale, device=device, dtype=args.dtype, steps=steps[0],
                               extra_steps=tuple(steps[1:]), vae_tiling=args.vae_tiling,
                               channels_last=args.channels_last, offload=args.offload or False,
                               compile_mode=None if args.compile_mode == "default" else args.compile_mode,
                               stage1_steps=args.stage1_steps,
                               stage1_guidance=args.stage1_guidance, frames=args.frames,
                               size=_one_size(args), vae=args.vae, compile=args.compile,
                               warmup=1 if args.warmup is None else args.warmup,
                               threads=args.threads, seed=args.seed)
    return record, e2e_tables(record)


def _run_decode(args, device: str, dtype: str):
    from reducio.bench.decode import decode_tables, measure_decode

    record = measure_decode(
        model=args.model, size=_one_size(args) or (64 if args.quick else 1024), frames=args.frames,
        variants=tuple(v for v in args.variants.split(",") if v.strip()), dtype=dtype,
        device=device, warmup=1 if args.warmup is None else args.warmup,
        repeats=(1 if device == "cpu" else 3) if args.repeats is None else args.repeats,
        seed=args.seed, budget_s=args.budget_s, threads=args.threads)
    return record, decode_tables(record)


def _run_throughput(args, device: str, dtype: str):
    from reducio.bench.throughput import run_throughput_benchmark, throughput_tables

    def names(value):
        return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None

    record = run_throughput_benchmark(
        vae_presets=names(args.vae_presets), dit_presets=names(args.dit_presets),
        batch_sizes=tuple(args.batch_sizes), size=_one_size(args), train_steps=args.train_steps,
        dtype=dtype, device=device, quick=args.quick, threads=args.threads, warmup=args.warmup,
        repeats=args.repeats, seed=args.seed)
    return record, throughput_tables(record)
