"""`reducio generate PROMPT -o OUT.mp4`: text (+ optional image) -> video (docs/generate.md); the
parser, whose help lists the built-in model's words (`reducio.data.synthetic.vocab`, no torch). The
work is `reducio.cli.run.generate`."""

from __future__ import annotations

from reducio.cli.arguments import DTYPE_NAMES, integer, non_negative_number, positive_int, positive_number, seed
from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate a video from text (and optionally a content image)",
        description=(
            "Generate a video with a Reducio pipeline (docs/generate.md). Without --image, stage 1 "
            "draws the content image from the prompt; with --image, that image is used. Either "
            "way the image becomes the MIDDLE frame of the clip (the content frame: the middle of "
            "the first VAE window), not the first frame as in most image-to-video models, unless "
            "--image-position first. With no model argument the built-in default (trained on the synthetic shapes world, 64 px) "
            "runs offline."),
        epilog=_vocabulary_help(),
    )
    parser.add_argument("prompt", help="text prompt, e.g. 'a red circle moving right on a black background'")
    parser.add_argument("-o", "--output", required=True,
                        help="output video: .mp4 .mov .mkv .webm .gif, or a folder of PNG frames")
    parser.add_argument("--image", default=None,
                        help="content image (png/jpg or a video's first frame); it becomes the MIDDLE "
                             "frame of the first window of the clip, NOT the first frame, unless "
                             "--image-position first")
    parser.add_argument("--image-position", choices=("middle", "first"), default="middle",
                        help="where the content image (--image, or stage 1's) goes: middle = the "
                             "middle of the first window, with the motion leading up to it before "
                             "it, as the model is trained (the default); first = frame 0, the clip moving forward from "
                             "it (one more window to generate)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--steps", type=positive_int, default=None, help="sampler steps of the video stage")
    parser.add_argument("--guidance", type=non_negative_number, default=None,
                        help="text guidance scale of the video stage, >= 0: above 1 = towards the prompt, "
                             "1 or below = off (one conditional pass)")
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
    parser.add_argument("--frames", type=positive_int, default=16,
                        help="clip length: one window of the pipeline's VAE (16 frames for the built-in "
                             "and released models, the default), or longer clips generated window by "
                             "window, each adding the frames after its content frame (16 + 8k: e.g. 48)")
    parser.add_argument("--fps", type=positive_number, default=None, help="frame rate of the written video "
                                                                 "(default: the pipeline's, 16)")
    parser.add_argument("--pipeline", default=None,
                        help="pipeline folder (save_pretrained); default: the built-in one")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", default="fp32", choices=DTYPE_NAMES, help="weights and compute dtype")
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
    parser.set_defaults(run="reducio.cli.run.generate")


def _vocabulary_help() -> str:
    """The built-in model's vocabulary for --help, from the world's own word lists."""
    return ("Built-in model prompts: 'a {colour} {shape} moving {direction} [and a {colour} {shape} "
            "moving {direction}] on a {background} background' with colour: " + ", ".join(COLOURS)
            + "; shape: " + ", ".join(SHAPES) + "; direction: " + ", ".join(DIRECTIONS)
            + "; background: " + ", ".join(BACKGROUNDS) + ". Case, punctuation and spacing do "
            "not matter, and 'grey', 'an', 'the', 'upwards', 'to the left' are read as 'gray', "
            "'a', 'a', 'up', 'left' (docs/synthetic-world.md).")

