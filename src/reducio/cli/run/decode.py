"""`reducio decode`: the clips of a latent file (`reducio encode`) decoded with its VAE."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from tqdm.auto import tqdm

from reducio.cli.outputs import output_paths
from reducio.cli.vae_io import load_vae
from reducio.data.latent_file import load_latents
from reducio.data.reconstruction import decode_windows
from reducio.data.video_io import write_video
from reducio.errors import ShapeError

logger = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    data = load_latents(args.input)
    outputs = output_paths([Path(source["path"]) for source in data.sources], args.output)
    args.vae = args.vae or data.vae or "tiny"
    vae, warning = load_vae(args)
    if warning:
        print(warning)
    if data.vae_config and data.vae_config != json.loads(json.dumps(vae.arch.to_dict())):
        logger.warning("the VAE %s differs from the one that encoded %s (%s); decoding anyway",
                       args.vae, args.input, data.vae)
    if data.latent.shape[1] != vae.config.latent_channels or data.window != vae.config.frames:
        raise ShapeError(
            f"{args.input} holds {data.latent.shape[1]}-channel latents of {data.window}-frame windows but "
            f"--vae {args.vae} expects {vae.config.latent_channels} channels, {vae.config.frames} frames; "
            f"decode with the VAE that encoded it ({data.vae})"
        )
    with tqdm(total=data.latent.shape[0], unit="window", desc="decode") as bar:
        for i, (source, out) in enumerate(zip(data.sources, outputs)):
            latent, content = data.windows_of(i)
            video = decode_windows(vae, latent, content, source["frames"], batch_size=args.batch_size,
                                   progress=bar.update)
            write_video(out, video, fps=data.fps, lossless=args.lossless)
            bar.write(f"{source['path']} -> {out}: {video.shape[1]} frames {video.shape[2]}x{video.shape[3]}")
    return 0
