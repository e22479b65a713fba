"""Arguments and helpers shared by `reducio reconstruct`, `encode` and `decode`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from reducio.cli.arguments import non_negative_int, non_negative_number, positive_int, positive_number
from reducio.cli.outputs import output_paths  # noqa: F401  (reconstruct and decode import it from here)
from reducio.errors import ConfigError, ShapeError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Resolution a built-in VAE was trained at, used when --size is not given (tiny: the 64 px
# shapes world; see training/recipes/tiny-cpu.yaml). Other VAEs keep the clip's own size.
BUILTIN_SIZES = {"tiny": 64}
DEFAULT_VAE = "tiny"
WINDOW = 16  # frames per VAE window (the release's and the built-in VAE's)
# How to get the released weights, for users who give the built-in VAE a real video.
RELEASED_VAE = "models/reducio-vae-ft4"
RELEASED_VAE_STEPS = ("hf download microsoft/Reducio-VAE reducio-ft4-fs32-attn23.ckpt --local-dir checkpoints",
                      f"reducio convert checkpoints/reducio-ft4-fs32-attn23.ckpt -o {RELEASED_VAE}")


def add_vae_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--vae", default=DEFAULT_VAE,
                       help="VAE: built-in name (tiny), folder, .safetensors, official .ckpt, ft4/ft2 "
                            "or a hub id (default: tiny)")
    group.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    group.add_argument("--dtype", default="fp32", choices=tuple(DTYPES), help="weights and compute dtype")
    group.add_argument("--batch-size", type=positive_int, default=1, help="16-frame windows per forward pass")
    group.add_argument("--tiling", action="store_true", help="spatial tiling for large frames (e.g. 1024 px)")


def add_input_args(parser: argparse.ArgumentParser, whole_clip: bool = False) -> None:
    """Input options; `whole_clip`: --frames defaults to the whole clip (reconstruct, encode), else 16."""
    group = parser.add_argument_group("input")
    group.add_argument("--size", default=None,
                       help="S or HxW, multiples of 32: resize the short side and centre-crop "
                            "(default: 64 for --vae tiny, else the clip's size cropped to multiples of 32)")
    group.add_argument("--fps", type=positive_number, default=16, help="frame rate to sample the clip at (default 16)")
    if whole_clip:
        group.add_argument("--frames", type=non_negative_int, default=0,
                           help="frames to read per clip from --start (default 0 = the whole clip, "
                                f"{WINDOW} frames at a time). A length that is not a multiple of {WINDOW} "
                                "is padded to whole windows by repeating its last frame; the padding is "
                                "cut off after decoding")
    else:
        group.add_argument("--frames", type=non_negative_int, default=16,
                           help="frames to read per clip (default 16); 0 = the whole clip")
    group.add_argument("--start", type=non_negative_number, default=0.0, help="start time in seconds (default 0)")
    group.add_argument("--sampling", default="nearest", choices=("nearest", "stride"),
                       help="nearest timestamp (default) or the release's integer stride round(src_fps/fps)")


def parse_size_arg(text: str | None) -> int | tuple[int, int] | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x,]\s*(\d+))?\s*", str(text))
    if match is None:
        raise ShapeError(f"--size must be S or HxW (e.g. 256 or 256x448), got {text!r}")
    height, width = match.groups()
    return int(height) if width is None else (int(height), int(width))


def resolve_device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown --device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name} requested but CUDA is not available; use --device cpu")
    return device


def load_vae(args: argparse.Namespace):
    """(vae in eval mode, warning text or None)."""
    from reducio.data.reconstruction import weights_warning
    from reducio.models.vae import ReducioVAE

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    vae = ReducioVAE.from_pretrained(args.vae, torch_dtype=DTYPES[args.dtype], device=resolve_device(args.device))
    vae.eval()
    if args.tiling:
        vae.enable_tiling()
    notes = [text for text in (weights_warning(vae, str(args.vae)), quality_note(str(args.vae))) if text]
    return vae, "\n".join(notes) or None


def quality_note(source: str) -> str | None:
    """A note when built-in weights are trained but their recorded quality is below their target.

    Reads `metadata.json` of a built-in asset (`src/reducio/assets/vae-<name>/`), written by
    whoever exported the weights: {"trained": true, "test_psnr", "test_ssim", "target_psnr",
    "target_ssim", "steps", ...}. Untrained weights are announced by `weights_warning` instead.
    """
    import json

    from reducio.loading.sources import assets_root

    if Path(source).suffix or Path(source).exists():
        return None  # a user's own folder or file: no shipped measurement to report
    meta_file = assets_root() / f"vae-{source}" / "metadata.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("trained") is not True:
        return None
    try:
        psnr, ssim = float(meta["test_psnr"]), float(meta["test_ssim"])
        target_psnr, target_ssim = float(meta["target_psnr"]), float(meta["target_ssim"])
    except (KeyError, TypeError, ValueError):
        return None
    if psnr >= target_psnr and ssim >= target_ssim:
        return None
    copy = float(meta.get("content_copy_psnr", float("nan")))
    text = (f"WARNING: the built-in VAE '{source}' is below its quality target: "
            f"{psnr:.1f} dB PSNR / {ssim:.3f} SSIM on the shapes world's test split after "
            f"{meta.get('steps', '?')} training steps (target {target_psnr:g} dB / {target_ssim:g}; "
            f"repeating the content frame scores {copy:.1f} dB).")
    if meta.get("beats_content_copy") is False or meta.get("uses_latent") is False:
        text += (" It does not yet use its motion latent: expect the middle frame held still, "
                 "with artifacts, rather than the clip's motion.")
    return text + " docs/train-vae.md says how to continue its training."


def check_input_args(args: argparse.Namespace) -> None:
    """Fail on bad --size / --frames / --batch-size before the (slow) model load."""
    from reducio.data.transforms import parse_size

    parse_size(parse_size_arg(args.size))
    if args.frames < 0:
        raise ConfigError(f"--frames must be >= 0 (0 = whole clip), got {args.frames}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.fps is not None and args.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {args.fps}")


def read_clip(path: Path, args: argparse.Namespace) -> torch.Tensor:
    """The clip the command works on: (3, T, H, W) in [-1, 1] with H, W multiples of 32."""
    from reducio.data.transforms import crop_to_multiple_box
    from reducio.data.video_io import read_video

    size = parse_size_arg(args.size)
    if size is None:
        size = BUILTIN_SIZES.get(str(args.vae))
    return read_video(
        path, num_frames=args.frames or None, fps=args.fps, start=args.start, sampling=args.sampling,
        size=size, box=crop_to_multiple_box if size is None else None,
    )


def builtin_vae_note(vae: str, inputs: list[Path]) -> str | None:
    """One line when a built-in VAE (trained on the shapes world only) gets clips from elsewhere.

    The rule: a clip is from the shapes world when the `captions.jsonl` that `reducio data synth`
    writes beside it lists it (its "path" is the clip's name and it records the "scene"). Any other
    file or frame folder counts as a real video, even a shapes clip copied elsewhere or re-encoded.
    """
    from reducio.loading.sources import builtin_folder

    if builtin_folder("vae", str(vae)) is None:
        return None
    others = [path for path in inputs if not is_shapes_world_clip(path)]
    if not others:
        return None
    which = str(others[0]) if len(inputs) == 1 else f"{len(others)} of {len(inputs)} inputs (e.g. {others[0]})"
    return (f"WARNING: the built-in VAE '{vae}' was trained on the synthetic shapes world only (clips of "
            f"`reducio data synth`), and {which} is not such a clip: expect a poor reconstruction. For real "
            f"videos get the released weights: `{RELEASED_VAE_STEPS[0]}` then `{RELEASED_VAE_STEPS[1]}`, "
            f"and pass --vae {RELEASED_VAE}")


def is_shapes_world_clip(path: Path) -> bool:
    """Whether `reducio data synth` wrote `path` (its captions.jsonl beside it lists it with its scene)."""
    import json

    from reducio.data.synthetic.export import CAPTIONS_FILE

    captions = Path(path).parent / CAPTIONS_FILE
    try:
        lines = captions.read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("path") == Path(path).name and "scene" in record:
            return True
    return False
