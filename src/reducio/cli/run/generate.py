"""`reducio generate`: load the pipeline (built-in or --pipeline), draw or read the content image,
generate the clip and write it."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from reducio.cli.arguments import parse_size_arg
from reducio.cli.device import resolve_device
from reducio.cli.outputs import check_video_output
from reducio.data.buckets import bucket_for_aspect, parse_aspect
from reducio.data.synthetic.export import SHAPES_WORLD_COMMENT
from reducio.data.video_io import read_video, write_video
from reducio.data.video_write import WRITABLE_SUFFIXES
from reducio.errors import ConfigError
from reducio.loading.dtypes import resolve_dtype
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline, has_stage1
from reducio.pipelines.lora import ReducioLoraLoaderMixin, parse_lora_argument


def run(args: argparse.Namespace) -> int:
    output, size = _check_args(args)
    loras = _read_loras(args.lora)
    image = None
    if args.image is not None:
        # Before loading models: a missing or unreadable image fails in a second.
        image = read_video(args.image, num_frames=1, size=size)[:, 0]                # 3 H W
    device = resolve_device(args.device)
    if args.offload and torch.device(device).type == "cpu":
        raise ConfigError(f"--offload moves models between CPU memory and a GPU, but the device is "
                          f"{device!s}; pass --device cuda, or leave --offload out on a CPU")
    source = "tiny" if args.pipeline is None else args.pipeline
    if image is None and not has_stage1(source):
        raise ConfigError(f"the pipeline {args.pipeline} has no stage-1 image generator "
                          "(image-to-video only); pass --image PATH")
    cls = ReducioImageToVideoPipeline if image is not None else ReducioTextToVideoPipeline
    pipe = cls.from_pretrained(source, torch_dtype=resolve_dtype(args.dtype))
    if size is not None:
        _check_size(size, pipe.vae.spatial_compression_ratio)
    if loras:
        names = [f"lora{i}" for i in range(len(loras))]
        for name, (path, _) in zip(names, loras):
            pipe.load_lora_weights(path, adapter_name=name)
        pipe.set_adapters(names, [scale for _, scale in loras])
    if args.offload:
        # diffusers' model offload: each model moves to the GPU for its stage, then back
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    _apply_speed_options(pipe, args)
    generator = torch.Generator().manual_seed(args.seed)
    common = dict(negative_prompt=args.negative_prompt, num_inference_steps=args.steps,
                  guidance_scale=args.guidance, image_guidance_scale=args.image_guidance,
                  generator=generator, num_frames=args.frames, output_type="pt",
                  image_position=args.image_position)
    height, width = size if size is not None else (None, None)
    if image is not None:
        out = pipe(image, args.prompt, **common)
    else:
        out = pipe(args.prompt, stage1_num_inference_steps=args.stage1_steps,
                   stage1_guidance_scale=args.stage1_guidance,
                   num_candidates=args.stage1_candidates, height=height, width=width, **common)

    fps = args.fps if args.fps is not None else pipe.config.default_fps
    video = out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0                           # 3 T H W
    # A text-to-video clip of a shapes-world model is a clip of that world (`is_shapes_world_clip`).
    comment = SHAPES_WORLD_COMMENT if image is None and pipe.config.get("shapes_world_prompts") else None
    write_video(output, video, fps=fps, lossless=args.lossless, comment=comment)
    written = [output]
    if args.gif and output.suffix.lower() != ".gif":
        written.append(write_video(output.with_suffix(".gif"), video, fps=fps))
    _, frames, h, w = video.shape
    if args.image_position == "first":
        where = "frame 0 (--image-position first)"
    else:
        window = pipe.vae.num_frames
        where = f"frame {pipe.vae.content_frame_index(window)} (the middle of the first {window}-frame window)"
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in out.timings.items())
    print(f"wrote {' and '.join(str(p) for p in written)}: {frames} frames {h}x{w} at {fps:g} fps; "
          f"the content image is {where}")
    print(f"timings: {stages}")
    return 0


def _read_loras(values: list[str] | None) -> list[tuple[str, float]]:
    """--lora PATH[:SCALE] values -> (path, scale), each file read and checked before any model
    loads (a missing, pickled or non-LoRA file fails in a second)."""
    loras = [parse_lora_argument(value) for value in values or []]
    for path, _ in loras:
        ReducioLoraLoaderMixin.lora_state_dict(path)
    return loras


def _apply_speed_options(pipe, args: argparse.Namespace) -> None:
    """--vae-tiling and --compile on the video stage's VAE and transformer."""
    if args.vae_tiling == "on":
        pipe.vae.enable_tiling()
    elif args.vae_tiling == "off":
        pipe.vae.disable_tiling()
    if args.compile:
        mode = getattr(args, "compile_mode", "default")
        pipe.transformer.compile(mode=None if mode == "default" else mode)
        pipe.vae.decoder.compile()


def _check_size(size: tuple[int, int], ratio: int) -> None:
    """ConfigError unless --size / --height / --width are multiples of the VAE's spatial
    compression `ratio` (32 for the built-in and released VAEs)."""
    if any(v < ratio or v % ratio for v in size):
        raise ConfigError(f"the video size must be multiples of {ratio} (the VAE's spatial compression), got "
                          f"{size[0]}x{size[1]}; use {max(size[0] // ratio, 1) * ratio}x{max(size[1] // ratio, 1) * ratio}")


def _check_args(args: argparse.Namespace):
    """(output path, (height, width) or None); fail on bad arguments before any model loads."""
    output = Path(args.output)
    suffix = output.suffix.lower()
    if suffix and suffix not in WRITABLE_SUFFIXES:
        raise ConfigError(f"cannot write {output}: unknown video suffix {suffix!r}; use one of "
                          f"{', '.join(s for s in WRITABLE_SUFFIXES if s.startswith('.'))} "
                          "(or no suffix for a folder of PNG frames)")
    check_video_output(output)
    if args.stage1_candidates is not None and args.image is not None:
        raise ConfigError("--stage1-candidates reranks the content frames stage 1 draws from the prompt; "
                          "with --image there is no stage 1: leave one of them out")
    if args.size is not None and (args.height is not None or args.width is not None):
        raise ConfigError("pass either --size or --height/--width, not both")
    if (args.height is None) != (args.width is None):
        raise ConfigError(f"pass --height and --width together (got --height {args.height}, "
                          f"--width {args.width}), or --size S")
    size = parse_size_arg(args.size)
    if args.aspect is not None:
        if not isinstance(size, int):
            raise ConfigError(f"--aspect {args.aspect} needs --size S (one number, the base size: "
                              "e.g. --size 1024 --aspect 16:9); with --height/--width or --size HxW "
                              "the shape is already given")
        size = bucket_for_aspect(size, parse_aspect(args.aspect))
    if isinstance(size, int):
        size = (size, size)
    if args.height is not None:
        size = (args.height, args.width)
    return output, size
