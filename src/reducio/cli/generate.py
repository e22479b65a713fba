"""`reducio generate PROMPT -o OUT.mp4`: text (+ optional image) -> video (docs/generate.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from reducio.cli.arguments import integer, non_negative_number, positive_int, positive_number, seed
from reducio.errors import ConfigError

logger = logging.getLogger(__name__)

DTYPES = ("fp32", "bf16", "fp16")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate a video from text (and optionally a content image)",
        description=(
            "Generate a video with a Reducio pipeline (docs/generate.md). Without --image, stage 1 "
            "draws the content image from the prompt; with --image, that image is used. Either "
            "way the image becomes the MIDDLE frame of the clip (frame 7 of 16), not the first "
            "frame as in most image-to-video models, unless --image-position first. With no "
            "model argument the built-in default (trained on the synthetic shapes world, 64 px) "
            "runs offline."),
        epilog=_vocabulary_help(),
    )
    parser.add_argument("prompt", help="text prompt, e.g. 'a red circle moving right on a black background'")
    parser.add_argument("-o", "--output", required=True,
                        help="output video: .mp4 .mov .mkv .webm .gif, or a folder of PNG frames")
    parser.add_argument("--image", default=None,
                        help="content image (png/jpg or a video's first frame); it becomes the MIDDLE "
                             "frame (7 of 16) of the clip, NOT the first frame, unless "
                             "--image-position first")
    parser.add_argument("--image-position", choices=("middle", "first"), default="middle",
                        help="where the content image (--image, or stage 1's) goes: middle = frame "
                             "7 of 16, with the motion leading up to it before it, as the model is "
                             "trained (the default); first = frame 0, the clip moving forward from "
                             "it (one more 16-frame window to generate)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--steps", type=positive_int, default=None, help="sampler steps of the video stage")
    parser.add_argument("--guidance", type=non_negative_number, default=None,
                        help="text guidance scale of the video stage, >= 0 (1 or below = off)")
    parser.add_argument("--image-guidance", type=non_negative_number, default=None,
                        help="image guidance scale of the video stage, >= 0 (1 or below = off, the default)")
    parser.add_argument("--negative-prompt", default=None, help="text to steer away from")
    parser.add_argument("--stage1-steps", type=positive_int, default=None, help="sampler steps of the image stage")
    parser.add_argument("--stage1-guidance", type=non_negative_number, default=None,
                        help="guidance scale of the image stage, >= 0 (1 or below = off)")
    parser.add_argument("--stage1-candidates", type=positive_int, default=None,
                        help="content images sampled per video; the built-in stage 1's reranker keeps "
                             "the one that matches the prompt best (default: its own, 1 = no reranking)")
    parser.add_argument("--size", default=None,
                        help="S or HxW, multiples of 32 (default: the stage-1 size, 64 for the built-in; "
                             "with --image, the image is resized on its short side and centre-cropped)")
    parser.add_argument("--aspect", default=None,
                        help="with --size S: the aspect ratio W:H, e.g. 16:9; S 256/512/1024 take "
                             "PixArt-alpha's closest bucket (--size 1024 --aspect 16:9 -> 768x1344), "
                             "other S about S*S pixels in multiples of 32")
    parser.add_argument("--height", type=integer(32), default=None, help="video height (a multiple of 32)")
    parser.add_argument("--width", type=integer(32), default=None, help="video width (a multiple of 32)")
    parser.add_argument("--frames", type=integer(16), default=16,
                        help="16, or 16 + 8k for longer clips generated window by window (e.g. 48)")
    parser.add_argument("--fps", type=positive_number, default=None, help="frame rate of the written video "
                                                                 "(default: the pipeline's, 16)")
    parser.add_argument("--pipeline", default=None,
                        help="pipeline folder (save_pretrained); default: the built-in one")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES, help="weights and compute dtype")
    parser.add_argument("--vae-tiling", choices=("auto", "on", "off"), default="auto",
                        help="auto: as the VAE's config says (the release's ft4-1024 tiles 1024 px "
                             "frames into 320 px tiles, parity-exact); on: tile from 320 px up; "
                             "off: decode the whole frame at once (faster on a large GPU, ~35 %% "
                             "fewer FLOPs at 1024 px, more memory, NOT parity-exact with the "
                             "release's tiled decode; docs/benchmarks.md)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the DiT and the VAE decoder (GPU; the first video "
                             "pays the compile time, worth it for several videos per process)")
    parser.add_argument("--compile-mode", default="reduce-overhead",
                        choices=("reduce-overhead", "default", "max-autotune"),
                        help="with --compile: torch.compile mode of the DiT (reduce-overhead = "
                             "CUDA graphs: its loop 1.26x faster than eager on an H100, "
                             "docs/benchmarks.md); the decoder always compiles in the default "
                             "mode (default: %(default)s)")
    parser.add_argument("--offload", nargs="?", const="pinned", default=None,
                        choices=("pinned", "copy"),
                        help="keep every model in CPU memory and move each to the GPU only for its "
                             "stage (text encoder, stage 1, image encoders, DiT, VAE): diffusers' "
                             "enable_model_cpu_offload, for GPUs with less memory; same output. "
                             "'pinned' and 'copy' are accepted for older scripts and both run "
                             "diffusers' offload (models copied both ways)")
    parser.add_argument("--lora", action="append", default=None, metavar="PATH[:SCALE]",
                        help="a LoRA on the video DiT (a folder with pytorch_lora_weights.safetensors, "
                             "as `reducio train dit --set lora.rank=R` writes, or the .safetensors "
                             "file), at SCALE (default 1); repeat for several")
    parser.add_argument("--gif", action="store_true", help="also write OUT.gif next to the output")
    parser.add_argument("--lossless", action="store_true", help="write lossless RGB video")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from reducio.cli._vae_io import parse_size_arg, resolve_device
    from reducio.data.video_io import read_video, write_video
    from reducio.loading.dtypes import resolve_dtype
    from reducio.pipelines import (
        BUILTIN_NAMES,
        ReducioImageToVideoPipeline,
        ReducioTextToVideoPipeline,
        has_stage1,
    )

    output, size = _check_args(args, parse_size_arg)
    loras = _read_loras(args.lora)
    image = None
    if args.image is not None:
        # Before loading models: a missing or unreadable image fails in a second.
        image = read_video(args.image, num_frames=1, size=size)[:, 0]                # 3 H W
    device = resolve_device(args.device)
    if args.offload and torch.device(device).type == "cpu":
        raise ConfigError(f"--offload moves models between CPU memory and a GPU, but the device is "
                          f"{device!s}; pass --device cuda, or leave --offload out on a CPU")
    if args.pipeline is None or str(args.pipeline) in BUILTIN_NAMES:
        _builtin_prompts(args)
    source = "tiny" if args.pipeline is None else args.pipeline
    if image is None and not has_stage1(source):
        raise ConfigError(f"the pipeline {args.pipeline} has no stage-1 image generator "
                          "(image-to-video only); pass --image PATH")
    cls = ReducioImageToVideoPipeline if image is not None else ReducioTextToVideoPipeline
    pipe = cls.from_pretrained(source, torch_dtype=resolve_dtype(args.dtype))
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
    write_video(output, video, fps=fps, lossless=args.lossless)
    written = [output]
    if args.gif and output.suffix.lower() != ".gif":
        written.append(write_video(output.with_suffix(".gif"), video, fps=fps))
    _, frames, h, w = video.shape
    if args.image_position == "first":
        where = "frame 0 (--image-position first)"
    else:
        window = pipe.vae.arch.frames
        where = f"frame {pipe.vae.content_frame_index(window)} (the middle of the first {window}-frame window)"
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in out.timings.items())
    print(f"wrote {' and '.join(str(p) for p in written)}: {frames} frames {h}x{w} at {fps:g} fps; "
          f"the content image is {where}")
    print(f"timings: {stages}")
    return 0


def _read_loras(values: list[str] | None) -> list[tuple[str, float]]:
    """--lora PATH[:SCALE] values -> (path, scale), each file read and checked before any model
    loads (a missing, pickled or non-LoRA file fails in a second)."""
    from reducio.pipelines.lora import ReducioLoraLoaderMixin, parse_lora_argument

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


def _builtin_prompts(args: argparse.Namespace) -> None:
    """The built-in model reads canonical shapes-world captions: normalise the prompts in place
    (case, punctuation, "grey" -> "gray" ...) and warn, naming the unknown words, when the prompt
    is still outside the world."""
    import sys

    from reducio.data.synthetic.vocab import CaptionError, normalize_prompt, parse_caption, unknown_prompt_words

    prompt = normalize_prompt(args.prompt)
    try:
        parse_caption(prompt)
    except CaptionError:
        unknown = unknown_prompt_words(prompt)
        why = (f"unknown word(s): {', '.join(unknown)}" if unknown else
               "its words are known but not in the order 'a {colour} {shape} moving {direction} "
               "on a {background} background'")
        print(f"reducio generate: warning: the built-in pipeline is a 64 px model of the synthetic "
              f"shapes world and understands only its prompts, e.g. 'a red circle moving right on "
              f"a black background' (docs/synthetic-world.md); {args.prompt!r} is outside it ({why}), "
              "so expect an arbitrary shapes clip. Pass --pipeline DIR for a model of your own.",
              file=sys.stderr)
    args.prompt = prompt
    if args.negative_prompt is not None:
        args.negative_prompt = normalize_prompt(args.negative_prompt)


def _vocabulary_help() -> str:
    """The built-in model's vocabulary for --help, from the world's own word lists."""
    from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES

    return ("Built-in model prompts: 'a {colour} {shape} moving {direction} [and a {colour} {shape} "
            "moving {direction}] on a {background} background' with colour: " + ", ".join(COLOURS)
            + "; shape: " + ", ".join(SHAPES) + "; direction: " + ", ".join(DIRECTIONS)
            + "; background: " + ", ".join(BACKGROUNDS) + ". Case, punctuation and spacing do "
            "not matter, and 'grey', 'an', 'the', 'upwards', 'to the left' are read as 'gray', "
            "'a', 'a', 'up', 'left' (docs/synthetic-world.md).")


def _check_args(args: argparse.Namespace, parse_size_arg):
    """(output path, (height, width) or None); fail on bad arguments before any model loads."""
    from reducio.cli.outputs import check_video_output
    from reducio.data.video_write import WRITABLE_SUFFIXES

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
        from reducio.data.buckets import bucket_for_aspect, parse_aspect

        if not isinstance(size, int):
            raise ConfigError(f"--aspect {args.aspect} needs --size S (one number, the base size: "
                              "e.g. --size 1024 --aspect 16:9); with --height/--width or --size HxW "
                              "the shape is already given")
        size = bucket_for_aspect(size, parse_aspect(args.aspect))
    if isinstance(size, int):
        size = (size, size)
    if args.height is not None:
        size = (args.height, args.width)
    if size is not None and any(v < 32 or v % 32 for v in size):
        raise ConfigError(f"the video size must be multiples of 32, got {size[0]}x{size[1]}; "
                          f"use {max(size[0] // 32, 1) * 32}x{max(size[1] // 32, 1) * 32}")
    if args.frames < 16 or (args.frames - 16) % 8:
        lower = 16 + max(args.frames - 16, 0) // 8 * 8
        raise ConfigError(f"--frames must be 16 + 8k (16, 24, 32, 40, 48, ...): one 16-frame window, "
                          f"then 8 new frames per extra window; got {args.frames}, use {lower} or "
                          f"{lower + 8}")
    return output, size
