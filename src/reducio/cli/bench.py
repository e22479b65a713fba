"""`reducio bench vae|dit|e2e|throughput`: speed and memory benchmarks (docs/benchmarks.md).

Each prints a markdown table and writes a JSON record (hardware, versions, settings, raw timings)
to -o/--output, by default benchmarks/results/<benchmark>-<cpu|gpu>-<time>.json. The parser;
the work is `reducio.cli.run.bench`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reducio.bench.defaults import DEFAULT_MODELS, DEFAULT_VARIANTS
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
        OPTIONS[name](p)
        p.set_defaults(run="reducio.cli.run.bench")


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


# Each benchmark's own options, beside the common ones.
OPTIONS = {"vae": _args_vae, "dit": _args_dit, "e2e": _args_e2e, "decode": _args_decode,
           "throughput": _args_throughput}
