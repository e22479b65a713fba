"""`reducio reconstruct INPUT -o OUTPUT`: encode and decode videos, report PSNR / SSIM."""

from __future__ import annotations

import argparse
import math

from tqdm.auto import tqdm

from reducio.cli.arguments import seed
from reducio.cli._vae_io import (add_input_args, add_vae_args, builtin_vae_note, check_input_args, load_vae,
                                output_paths, read_clip)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct", help="encode + decode videos with a Reducio-VAE and print PSNR / SSIM",
        description="Reconstruct videos through a Reducio-VAE: the whole clip by default, 16 frames at a "
                    "time (--frames / --start to limit; docs/reconstruct-a-video.md).",
    )
    parser.add_argument("input", nargs="+", help="video file, folder of videos, folder of frames or glob")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (one input) or folder (<name>.mp4 per input)")
    parser.add_argument("--side-by-side", action="store_true", help="write input | reconstruction")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    parser.add_argument("--sample-posterior", action="store_true",
                        help="decode a posterior sample instead of the mode (the release samples)")
    parser.add_argument("--seed", type=seed, default=0, help="seed for --sample-posterior")
    add_input_args(parser, whole_clip=True)
    add_vae_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from reducio.data.reconstruction import compression_factors, reconstruct_clip
    from reducio.data.video_io import expand_inputs, side_by_side, write_video
    from reducio.eval.reconstruction import psnr, ssim

    check_input_args(args)
    inputs = expand_inputs(args.input)
    outputs = output_paths(inputs, args.output)
    note = builtin_vae_note(args.vae, inputs)
    vae, warning = load_vae(args)
    for text in (warning, note):
        if text:
            print(text)
    generator = torch.Generator(vae.device).manual_seed(args.seed) if args.sample_posterior else None
    scores = []
    factors = None
    with tqdm(total=0, unit="window", desc="reconstruct") as bar:
        for path, out in zip(inputs, outputs):
            video = read_clip(path, args)  # 3 T H W
            _, frames, height, width = video.shape
            bar.total += math.ceil(frames / vae.config.frames)
            bar.refresh()
            recon = reconstruct_clip(vae, video, batch_size=args.batch_size, sample_posterior=args.sample_posterior,
                                     generator=generator, progress=bar.update)
            result = side_by_side(video, recon) if args.side_by_side else recon
            write_video(out, result, fps=args.fps, lossless=args.lossless)
            p, s = float(psnr(recon, video)), float(ssim(recon, video))
            scores.append((p, s))
            factors = compression_factors(vae, height, width)
            c, t, h, w = factors.latent_shape
            bar.write(f"{path} -> {out}: {frames} frames {height}x{width}, latent {c}x{t}x{h}x{w} per "
                      f"{vae.config.frames} frames: PSNR {p:.2f} dB, SSIM {s:.4f}")
    mean_psnr = sum(p for p, _ in scores) / len(scores)
    mean_ssim = sum(s for _, s in scores) / len(scores)
    print(f"{len(scores)} clip(s): mean PSNR {mean_psnr:.2f} dB, mean SSIM {mean_ssim:.4f}")
    print(f"compression: {factors.positions:,.0f}x fewer positions, {factors.values:,.0f}x fewer values "
          f"(motion latent only; each {vae.config.frames}-frame window also keeps one content frame)")
    return 0
