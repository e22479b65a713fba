"""Run-time helpers of the commands that read clips through a VAE (reconstruct, encode, decode,
edit, transfer, eval recon, the demo): load the VAE of --vae with its notes, read a clip as the
input options say. Their options are defined in `reducio.cli.vae_options`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reducio.cli.arguments import parse_size_arg
from reducio.cli.device import resolve_device
from reducio.data.reconstruction import weights_warning
from reducio.data.synthetic.export import CAPTIONS_FILE, SHAPES_WORLD_COMMENT
from reducio.data.transforms import crop_to_multiple_box, parse_size
from reducio.data.video_io import probe_video, read_comment, read_video
from reducio.errors import ConfigError
from reducio.loading.dtypes import resolve_dtype
from reducio.loading.sources import assets_root, builtin_folder
from reducio.models.vae import ReducioVAE

# Resolution a built-in VAE was trained at, used when --size is not given (tiny: the 64 px
# shapes world; see training/recipes/tiny-cpu.yaml). Other VAEs keep the clip's own size.
BUILTIN_SIZES = {"tiny": 64}
# How to get the released weights, for users who give the built-in VAE a real video.
RELEASED_VAE = "models/reducio-vae-ft4"
RELEASED_VAE_STEPS = ("hf download microsoft/Reducio-VAE reducio-ft4-fs32-attn23.ckpt --local-dir checkpoints",
                      f"reducio convert checkpoints/reducio-ft4-fs32-attn23.ckpt -o {RELEASED_VAE}")


def load_vae(args: argparse.Namespace) -> tuple[ReducioVAE, str | None]:
    """(vae in eval mode, warning text or None)."""
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    vae = ReducioVAE.from_pretrained(args.vae, torch_dtype=resolve_dtype(args.dtype),
                                     device=resolve_device(args.device))
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
    parse_size(parse_size_arg(args.size))
    if args.frames < 0:
        raise ConfigError(f"--frames must be >= 0 (0 = whole clip), got {args.frames}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.fps is not None and args.fps <= 0:
        raise ConfigError(f"--fps must be positive, got {args.fps}")


def check_inputs_open(inputs: list[Path]) -> None:
    """Probe each input (`probe_video`: its header, and a packet count where the container stores
    no frame count; nothing is decoded) before the (slow) model load, so that an empty, truncated
    or corrupt file fails at once with its `VideoReadError`, and not after the clips before it."""
    for path in inputs:
        probe_video(path)


def read_clip(path: Path, args: argparse.Namespace) -> torch.Tensor:
    """The clip the command works on: (3, T, H, W) in [-1, 1] with H, W multiples of 32."""
    size = parse_size_arg(args.size)
    if size is None:
        size = BUILTIN_SIZES.get(str(args.vae))
    return read_video(
        path, num_frames=args.frames or None, fps=args.fps, start=args.start, sampling=args.sampling,
        size=size, box=crop_to_multiple_box if size is None else None,
    )


def load_vae_for(args: argparse.Namespace, inputs: list[Path]) -> ReducioVAE:
    """`load_vae`, its warning and the built-in VAE's note about `inputs` printed: the VAE."""
    vae, warning = load_vae(args)
    for text in (warning, builtin_vae_note(args.vae, inputs) if inputs else None):
        if text:
            print(text)
    return vae


def builtin_vae_note(vae: str, inputs: list[Path]) -> str | None:
    """One line when a built-in VAE (trained on the shapes world only) gets clips from elsewhere.

    The rule is `is_shapes_world_clip`; any other file or frame folder counts as a real video.
    """
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
    """Whether `path` is a clip of the shapes world: its container's comment tag says so (video files
    of `reducio data synth`, and of `reducio generate` with a model of that world, wherever they are
    copied), or the `captions.jsonl` that `reducio data synth` writes beside it lists it with its
    scene (also folders of PNG frames, which keep no tag). A re-encoded copy may lose the tag."""
    if read_comment(path) == SHAPES_WORLD_COMMENT:
        return True
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
