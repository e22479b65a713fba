"""`reducio reconstruct`: encode and decode each input clip, write the result, print PSNR / SSIM."""

from __future__ import annotations

import argparse
import math

import torch
from tqdm.auto import tqdm

from reducio.cli.outputs import output_paths
from reducio.cli.vae_io import check_input_args, check_inputs_open, load_vae_for, read_clip
from reducio.data.reconstruction import compression_factors, reconstruct_clip
from reducio.data.video_io import expand_inputs, side_by_side, write_video
from reducio.eval.reconstruction import psnr, ssim


def run(args: argparse.Namespace) -> int:
    check_input_args(args)
    inputs = expand_inputs(args.input)
    outputs = output_paths(inputs, args.output)
    check_inputs_open(inputs)
    vae = load_vae_for(args, inputs)
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
