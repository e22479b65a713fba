"""`reducio eval recon`: reconstruction metrics of a VAE over video files or the shapes world."""

from __future__ import annotations

import argparse

import torch

from reducio.cli.arguments import parse_size_arg
from reducio.cli.device import resolve_device
from reducio.cli.vae_io import BUILTIN_SIZES, load_vae, read_clip
from reducio.data.reconstruction import reconstruct_clip
from reducio.data.video_io import expand_inputs
from reducio.errors import ConfigError
from reducio.eval.i3d import InceptionI3d
from reducio.eval.lpips import LPIPS
from reducio.eval.recon_run import file_samples, run_reconstruction, synthetic_samples


def run(args: argparse.Namespace) -> int:
    if args.synthetic is not None:
        size = parse_size_arg(args.size) or BUILTIN_SIZES.get(str(args.vae), 64)
        if not isinstance(size, int):
            raise ConfigError(f"--synthetic clips are square: give --size S, got {args.size}")
        if args.count < 1:
            raise ConfigError(f"--count must be >= 1, got {args.count}")
        source = {"synthetic": args.synthetic, "start": args.synthetic_start, "size": size}
    else:
        paths = expand_inputs(args.data)[: args.limit]
        source = {"data": [str(d) for d in args.data], "size": args.size}
    vae, warning = load_vae(args)
    if warning:
        print(warning)
    if args.synthetic is not None:  # --frames 0: one window of this VAE
        samples = synthetic_samples(args.synthetic, args.count, size=size, frames=args.frames or vae.num_frames,
                                    start=args.synthetic_start)
    else:
        samples = file_samples(paths, lambda p: read_clip(p, args))
    device = resolve_device(args.device)
    lpips = i3d = None
    if args.lpips:
        lpips = LPIPS.from_pretrained(args.lpips, net=args.lpips_net, backbone_path=args.lpips_backbone).to(device)
    elif args.lpips_backbone:
        raise ConfigError("--lpips-backbone needs --lpips (the lin-layer weights)")
    if args.i3d:
        i3d = InceptionI3d.from_pretrained(args.i3d).to(device)

    def reconstruct(video: torch.Tensor, seed: int) -> torch.Tensor:
        generator = torch.Generator(vae.device).manual_seed(seed) if args.sample_posterior else None
        return reconstruct_clip(vae, video, batch_size=args.batch_size, sample_posterior=args.sample_posterior,
                                generator=generator)

    settings = {
        "vae": str(args.vae), **source, "frames": args.frames, "fps": args.fps,
        "sample_posterior": args.sample_posterior, "seed": args.seed, "dtype": args.dtype,
        "lpips_net": args.lpips_net if args.lpips else None,
    }
    summary = run_reconstruction(samples, reconstruct, args.output, settings, lpips=lpips, i3d=i3d,
                                 i3d_features=args.i3d_features, seed=args.seed)
    metrics = summary["metrics"]
    parts = [f"{name} {metrics[name]['mean']:.4f}" for name in ("psnr", "ssim", "lpips") if name in metrics]
    if summary.get("rfvd") is not None:
        parts.append(f"rFVD {summary['rfvd']:.2f}")
    print(f"{summary['clips']} clips: " + ", ".join(parts) + f" -> {args.output}/report.md")
    return 0
