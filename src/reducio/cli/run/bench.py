"""`reducio bench NAME`: run one benchmark, print its tables, write its JSON record."""

from __future__ import annotations

import argparse
import logging
import sys

from reducio.bench.decode import decode_tables, measure_decode
from reducio.bench.dit import dit_tables, run_dit_benchmark
from reducio.bench.e2e import e2e_tables, run_e2e_benchmark
from reducio.bench.env import parse_dtype, resolve_device
from reducio.bench.report import default_output, write_json
from reducio.bench.throughput import run_throughput_benchmark, throughput_tables
from reducio.bench.vae import run_vae_benchmark, vae_tables
from reducio.cli.bench import register
from reducio.errors import ConfigError, ReducioError


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    dtype = args.dtype or ("fp32" if device.type == "cpu" else "bf16")
    parse_dtype(dtype)  # a ConfigError naming the valid ones before anything is built
    runner = RUNNERS[args.benchmark]
    record, tables = runner(args, str(device), dtype)
    record["command"] = getattr(args, "command_line", None) or "reducio bench " + " ".join(_argv(args))
    print(tables)
    path = args.output or default_output(args.benchmark, record["environment"],
                                         "quick" if args.quick else "")
    print(f"wrote {write_json(path, record)}")
    return 0


def _argv(args: argparse.Namespace) -> list[str]:
    argv = sys.argv[1:]
    return argv[argv.index("bench") + 1:] if "bench" in argv else [args.benchmark]


def _one_size(args: argparse.Namespace) -> int | None:
    if args.size and len(args.size) > 1:
        raise ConfigError(f"reducio bench {args.benchmark} takes one --size, got {args.size}")
    return args.size[0] if args.size else None


def _run_vae(args, device: str, dtype: str):
    record = run_vae_benchmark(
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        size=_one_size(args), frames=args.frames, dtype=dtype, device=device, quick=args.quick,
        tile=args.tile, isolated=False if args.in_process else None, threads=args.threads,
        warmup=args.warmup, repeats=args.repeats, seed=args.seed, flops=not args.no_flops,
        flops_only=args.flops_only)
    return record, vae_tables(record)


def main(argv: list[str], command_line: str | None = None) -> int:
    """Run `reducio bench ARGV` without the full CLI (the benchmarks/*.py scripts use this)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="reducio")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", *argv])
    args.command_line = command_line
    try:
        return run(args)
    except ReducioError as error:
        print(f"reducio bench: error: {error}", file=sys.stderr)
        return 1


def _run_dit(args, device: str, dtype: str):
    record = run_dit_benchmark(
        preset=None if args.quick and args.preset == "reducio-dit-1.2b" else args.preset,
        sizes=tuple(args.size) if args.size else None, frames=args.frames, dtype=dtype,
        also_dtype=args.also_dtype, device=device, quick=args.quick, depth=args.depth,
        max_tflop=args.max_tflop,
        cfg_passes=args.cfg_passes, isolated=False if args.in_process else None,
        threads=args.threads, warmup=args.warmup, repeats=args.repeats, seed=args.seed)
    return record, dit_tables(record)


def _run_e2e(args, device: str, dtype: str):
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
    record = measure_decode(
        model=args.model, size=_one_size(args) or (64 if args.quick else 1024), frames=args.frames,
        variants=tuple(v for v in args.variants.split(",") if v.strip()), dtype=dtype,
        device=device, warmup=1 if args.warmup is None else args.warmup,
        repeats=(1 if device == "cpu" else 3) if args.repeats is None else args.repeats,
        seed=args.seed, budget_s=args.budget_s, threads=args.threads)
    return record, decode_tables(record)


def _run_throughput(args, device: str, dtype: str):
    def names(value):
        return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None

    record = run_throughput_benchmark(
        vae_presets=names(args.vae_presets), dit_presets=names(args.dit_presets),
        batch_sizes=tuple(args.batch_sizes), size=_one_size(args), train_steps=args.train_steps,
        dtype=dtype, device=device, quick=args.quick, threads=args.threads, warmup=args.warmup,
        repeats=args.repeats, seed=args.seed)
    return record, throughput_tables(record)


RUNNERS = {"vae": _run_vae, "dit": _run_dit, "e2e": _run_e2e, "decode": _run_decode, "throughput": _run_throughput}
