"""`reducio encode`: each clip's motion latents and content frames, one VAE window at a time, into
one .safetensors file (`reducio decode` reads it back)."""

from __future__ import annotations

import argparse
import math

import torch
from tqdm.auto import tqdm

from reducio.cli.outputs import check_output_file
from reducio.cli.vae_io import check_input_args, check_inputs_open, load_vae_for, read_clip
from reducio.data.latent_file import LatentFile, save_latents
from reducio.data.reconstruction import compression_factors, encode_clip
from reducio.data.video_io import expand_inputs
from reducio.errors import ShapeError


def run(args: argparse.Namespace) -> int:
    check_input_args(args)
    check_output_file(args.output, (".safetensors",), "latent file")
    inputs = expand_inputs(args.input)
    check_inputs_open(inputs)
    vae = load_vae_for(args, inputs)
    generator = torch.Generator(vae.device).manual_seed(args.seed) if args.sample_posterior else None
    latents, contents, clips, sources = [], [], [], []
    with tqdm(total=0, unit="window", desc="encode") as bar:
        for i, path in enumerate(inputs):
            video = read_clip(path, args)  # 3 T H W
            if contents and video.shape[-2:] != contents[0].shape[-2:]:
                raise ShapeError(
                    f"{path} is {video.shape[2]}x{video.shape[3]} but earlier clips are "
                    f"{contents[0].shape[2]}x{contents[0].shape[3]}; one file holds one size: pass --size"
                )
            bar.total += math.ceil(video.shape[1] / vae.config.frames)
            bar.refresh()
            latent, content = encode_clip(vae, video, batch_size=args.batch_size,
                                          sample_posterior=args.sample_posterior, generator=generator,
                                          progress=bar.update)
            latents.append(latent)
            contents.append(content)
            clips.append(torch.full((latent.shape[0],), i, dtype=torch.long))
            sources.append({"path": str(path), "frames": int(video.shape[1]), "start": args.start})
    data = LatentFile(
        latent=torch.cat(latents), content=torch.cat(contents), clip=torch.cat(clips), sources=sources,
        fps=args.fps, window=vae.config.frames, vae=str(args.vae), vae_config=vae.arch.to_dict(),
        sample_posterior=args.sample_posterior,
    )
    path = save_latents(args.output, data)
    factors = compression_factors(vae, *data.content.shape[-2:])
    c, t, h, w = factors.latent_shape
    print(f"wrote {data.latent.shape[0]} window(s) of {len(inputs)} clip(s) to {path}: latent {c}x{t}x{h}x{w} "
          f"per window ({factors.positions:,.0f}x fewer positions, {factors.values:,.0f}x fewer values) "
          f"+ one {data.content.shape[-2]}x{data.content.shape[-1]} content frame per window")
    return 0
