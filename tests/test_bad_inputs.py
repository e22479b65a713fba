"""Bad inputs end in one line naming the problem, never a traceback.

Every case below is an input a user can get wrong: broken videos, images reducio cannot read
faithfully, latent files of the wrong shape or dtype, damaged or mismatched checkpoints, unknown
config keys, resumes from nothing or from a damaged checkpoint, impossible numbers and output
paths, missing model paths. Each expects its error class (a ReducioError subclass), a one-line
message, and, for commands, exit status 1 with that line alone on stderr. Numeric options are
refused by argparse while parsing (exit status 2, one line): their class is argparse's usage
error, not a ReducioError, and they are marked USAGE.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from reducio.cli.main import build_parser, load_command, main
from reducio.data import latent_file
from reducio.data.synthetic.world import make_clip
from reducio.data.video_io import read_video, write_video
from reducio.errors import (CheckpointError, ConfigError, ModelNotFoundError, OutputPathError, ReducioError,
                            ShapeError, VideoReadError)
from reducio.models.vae import ReducioVAE, VAEConfig

USAGE = "usage"  # argparse refused the command line (exit status 2)
PROMPT = "a red circle moving right on a black background"
WEIGHTS = "diffusion_pytorch_model.safetensors"
TRAIN = ["--set", "data.size=32", "--set", "data.frames=8", "--set", "model.overrides.frames=8",
         "--set", "data.batch_size=1", "--set", "train.sample_every=1000", "--set", "logging.progress_bar=false",
         "--set", "logging.tensorboard=false"]


# ------------------------------------------------------------------------------------ the inputs


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Every bad input, built once: videos, images, latent files, model folders, a training run."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("bad")
    clip = make_clip(0, size=64, frames=16).video
    write_video(d / "ok.mp4", clip, lossless=True)
    data = (d / "ok.mp4").read_bytes()
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (d / "empty.mp4").write_bytes(b"")
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (d / "text.mp4").write_text("not a video\n")
    write_video(d / "short.mp4", clip[:4], lossless=True)  # T H W 3 uint8
    write_video(d / "small.mkv", torch.rand(3, 16, 30, 50) * 2 - 1, lossless=True)
    write_video(d / "sizes" / "a.mkv", clip, lossless=True)
    write_video(d / "sizes" / "b.mkv", make_clip(1, size=96, frames=16).video, lossless=True)
    (d / "no-videos").mkdir()
    (d / "no-videos" / "notes.txt").write_text("x")

    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((64, 64), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    palette = Image.fromarray(rgb).convert("P")
    palette.save(d / "palette-transparent.png", transparency=0)
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    for name, image in (("rgba", Image.fromarray(rgba, "RGBA")), ("mixed", None)):
        folder = d / f"frames-{name}"
        folder.mkdir()
        for i in range(16):
            frame = image if image is not None else Image.fromarray(rgb[: 32 if i == 3 else 64])
            frame.save(folder / f"{i:02d}.png")
    folder = d / "frames-corrupt"
    shutil.copytree(d / "frames-mixed", folder)
    (folder / "03.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)

    torch.manual_seed(0)
    ReducioVAE(VAEConfig.preset("tiny")).save_pretrained(d / "vae")
    _model_variants(d)
    _latent_files(d)
    (d / "file").write_text("x")
    (d / "dir.mp4").mkdir()
    (d / "dir.safetensors").mkdir()

    run = d / "run"
    assert main(["train", "vae", "--recipe", "tiny-cpu", "--output-dir", str(run), "--max-steps", "1",
                 *TRAIN]) == 0
    step = run / "checkpoints" / "step-00000001"
    damage = {
        "training-pt": lambda c: (c / "training.pt").write_bytes(b"\x80\x02garbage"),
        "state-json": lambda c: (c / "state.json").write_text("{half a json"),
        "model": lambda c: [p.write_bytes(p.read_bytes()[:100]) for p in (c / "models").glob("*.safetensors")],
    }
    for name, hurt in damage.items():
        shutil.copytree(run, d / f"run-{name}")
        hurt(d / f"run-{name}" / "checkpoints" / step.name)
    return d


def _model_variants(d: Path) -> None:
    def edit_config(**changes):
        def apply(folder: Path) -> None:
            config = json.loads((folder / "config.json").read_text())
            config.update(changes)
            (folder / "config.json").write_text(json.dumps(config))
        return apply

    variants: dict[str, Callable[[Path], None]] = {
        "truncated": lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:5000]),
        "empty-weights": lambda f: (f / WEIGHTS).write_bytes(b""),
        "no-weights": lambda f: (f / WEIGHTS).unlink(),
        "mismatched": edit_config(latent_channels=8),
        "unknown-key": edit_config(attention_heads_typo=4),
        "bad-json": lambda f: (f / "config.json").write_text("{not json"),
    }
    for name, make in variants.items():
        shutil.copytree(d / "vae", d / f"vae-{name}")
        make(d / f"vae-{name}")
    (d / "random.ckpt").write_bytes(os.urandom(4000))
    torch.save({"state_dict": {"foo.weight": torch.zeros(3)}}, d / "foreign.ckpt")
    data = (d / "foreign.ckpt").read_bytes()
    (d / "truncated.ckpt").write_bytes(data[: len(data) // 2])


def _latent_files(d: Path) -> None:
    def write(name: str, latent=None, content=None, clip=None, sources=None, metadata=None) -> None:
        latent = torch.zeros(1, 16, 4, 2, 2) if latent is None else latent
        content = torch.zeros(1, 3, 64, 64) if content is None else content
        clip = torch.zeros(1, dtype=torch.long) if clip is None else clip
        sources = [{"path": "a.mp4", "frames": 16, "start": 0.0}] if sources is None else sources
        meta = {"reducio_format": latent_file.FORMAT, "reducio_format_version": "1", "vae": "tiny",
                "vae_config": "{}", "fps": "16.0", "window": "16", "height": "64", "width": "64",
                "sample_posterior": "false", "sources": json.dumps(sources), **(metadata or {})}
        save_file({"latent": latent.contiguous(), "content": content.half().contiguous(), "clip": clip},
                  str(d / f"lat-{name}.safetensors"), metadata=meta)

    write("int", latent=torch.zeros(1, 16, 4, 2, 2, dtype=torch.int32))
    write("3d", latent=torch.zeros(16, 4, 2), clip=torch.zeros(16, dtype=torch.long))
    write("content-count", content=torch.zeros(2, 3, 64, 64))
    write("nan", latent=torch.full((1, 16, 4, 2, 2), float("nan")))
    write("frames", sources=[{"path": "a.mp4", "frames": 40, "start": 0.0}])
    write("no-sources", sources=[])
    write("bad-metadata", metadata={"sources": "[{broken"})
    write("channels", latent=torch.zeros(1, 8, 4, 2, 2))
    write("content-size", content=torch.zeros(1, 3, 32, 32))
    (d / "lat-random.safetensors").write_bytes(os.urandom(100))


# ------------------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    name: str
    error: type[ReducioError] | str  # USAGE for argparse refusals
    match: str  # a regex the message must contain
    argv: Callable[[Path], list[str]] | None = None  # a command line, or
    call: Callable[[Path], object] | None = None  # a library call


def cli(name, error, match, *argv):
    return Case(name, error, match, argv=lambda d: [a.format(d=d) for a in argv])


def lib(name, error, match, call):
    return Case(name, error, match, call=call)


CPU = ("--device", "cpu")
VAE = ("--vae", "{d}/vae", *CPU)

CASES = [
    # videos
    cli("corrupt video", VideoReadError, "cannot open as a video", "data", "probe", "{d}/corrupt.mp4"),
    cli("empty video", VideoReadError, r"file is empty \(0 bytes\)", "reconstruct", "{d}/empty.mp4", "-o", "{d}/o.mp4", *CPU),
    cli("truncated video", VideoReadError, "cannot open as a video", "reconstruct", "{d}/truncated.mp4", "-o", "{d}/o.mp4", *CPU),
    cli("text file named .mp4", VideoReadError, "cannot open as a video", "encode", "{d}/text.mp4", "-o", "{d}/o.safetensors", *CPU),
    cli("too-short video", VideoReadError, "too short: 4 frame", "reconstruct", "{d}/short.mp4", "-o", "{d}/o.mp4", "--frames", "32", *CPU),
    cli("start past the end", VideoReadError, "short|no frames", "reconstruct", "{d}/short.mp4", "-o", "{d}/o.mp4", "--start", "30", *CPU),
    cli("odd-sized video below 32 px", ShapeError, "30x50 frame is smaller than 32", "reconstruct", "{d}/small.mkv", "-o", "{d}/o.mp4", *VAE),
    cli("size not a multiple of 32", ShapeError, "not a positive multiple of 32", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--size", "50", *CPU),
    cli("size not a size", ShapeError, "--size must be S or HxW", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--size", "big", *CPU),
    cli("clips of two sizes in one latent file", ShapeError, "one file holds one size", "encode", "{d}/sizes", "-o", "{d}/o.safetensors", *VAE),
    cli("missing video", VideoReadError, "file not found", "reconstruct", "{d}/nope.mp4", "-o", "{d}/o.mp4", *CPU),
    cli("folder without videos", VideoReadError, "holds no video frames", "reconstruct", "{d}/no-videos", "-o", "{d}/o", *CPU),
    cli("glob matching nothing", VideoReadError, "matches no files", "reconstruct", "{d}/*.nothing", "-o", "{d}/o", *CPU),
    cli("frame folder of mixed sizes", VideoReadError, "differs from", "reconstruct", "{d}/frames-mixed", "-o", "{d}/o.mp4", *CPU),
    cli("frame folder with a corrupt frame", VideoReadError, "03.png", "reconstruct", "{d}/frames-corrupt", "-o", "{d}/o.mp4", *CPU),
    # images
    cli("RGBA frames as content", VideoReadError, r"transparent pixels \(rgba", "reconstruct", "{d}/frames-rgba", "-o", "{d}/o.mp4", *CPU),
    cli("RGBA --image", VideoReadError, r"transparent pixels \(rgba", "generate", PROMPT, "-o", "{d}/g.mp4", "--image", "{d}/rgba.png"),
    cli("palette --image with transparency", VideoReadError, r"transparent pixels \(pal8", "generate", PROMPT, "-o", "{d}/g.mp4", "--image", "{d}/palette-transparent.png"),
    cli("corrupt --image", VideoReadError, "corrupt.png", "generate", PROMPT, "-o", "{d}/g.mp4", "--image", "{d}/corrupt.png"),
    cli("missing --image", VideoReadError, "file not found", "generate", PROMPT, "-o", "{d}/g.mp4", "--image", "{d}/nope.png"),
    lib("RGBA image read", VideoReadError, "flatten it onto a background", lambda d: read_video(d / "rgba.png", num_frames=1)),
    # latent files
    cli("integer latent", ShapeError, "'latent' must be float .* int32", "decode", "{d}/lat-int.safetensors", "-o", "{d}/dec", *CPU),
    cli("3-D latent", ShapeError, r"'latent' must be float \(N, C, t, h, w\)", "decode", "{d}/lat-3d.safetensors", "-o", "{d}/dec", *CPU),
    cli("content frames per window", ShapeError, "'content' must be", "decode", "{d}/lat-content-count.safetensors", "-o", "{d}/dec", *CPU),
    cli("NaN latent", ShapeError, "NaN or infinite", "decode", "{d}/lat-nan.safetensors", "-o", "{d}/dec", *CPU),
    cli("frames and windows disagree", ShapeError, "records 40 frames", "decode", "{d}/lat-frames.safetensors", "-o", "{d}/dec", *CPU),
    cli("latent file without sources", VideoReadError, "'sources' must list", "decode", "{d}/lat-no-sources.safetensors", "-o", "{d}/dec", *CPU),
    cli("damaged latent metadata", VideoReadError, "damaged metadata", "decode", "{d}/lat-bad-metadata.safetensors", "-o", "{d}/dec", *CPU),
    cli("random bytes as latents", VideoReadError, "not a readable .safetensors", "decode", "{d}/lat-random.safetensors", "-o", "{d}/dec", *CPU),
    cli("model weights as latents", VideoReadError, "not a latent file", "decode", "{d}/vae/" + WEIGHTS, "-o", "{d}/dec", *CPU),
    cli("latent channels vs VAE", ShapeError, "8-channel latents", "decode", "{d}/lat-channels.safetensors", "-o", "{d}/dec", *VAE),
    cli("latent vs content size", ShapeError, "content frame is 32x32", "decode", "{d}/lat-content-size.safetensors", "-o", "{d}/dec", *VAE),
    # checkpoints and model configs
    lib("truncated weights", CheckpointError, "cannot read the weights", lambda d: ReducioVAE.from_pretrained(d / "vae-truncated")),
    lib("empty weights", CheckpointError, "cannot read the weights", lambda d: ReducioVAE.from_pretrained(d / "vae-empty-weights")),
    lib("missing weights file", CheckpointError, "cannot read the weights", lambda d: ReducioVAE.from_pretrained(d / "vae-no-weights")),
    lib("config vs weights", CheckpointError, "does not match ReducioVAE: mis-shaped weight: post_quant_conv.weight", lambda d: ReducioVAE.from_pretrained(d / "vae-mismatched")),
    lib("unknown model config key", ConfigError, r"unknown key attention_heads_typo in VAEConfig; valid keys: ", lambda d: ReducioVAE.from_pretrained(d / "vae-unknown-key")),
    lib("model config not JSON", ConfigError, "cannot read config.json", lambda d: ReducioVAE.from_pretrained(d / "vae-bad-json")),
    lib("random bytes .ckpt", CheckpointError, "cannot read", lambda d: ReducioVAE.from_single_file(d / "random.ckpt")),
    lib("truncated .ckpt", CheckpointError, "cannot read .* as a PyTorch checkpoint", lambda d: ReducioVAE.from_single_file(d / "truncated.ckpt")),
    lib("foreign .ckpt", CheckpointError, "not a Reducio-VAE state dict", lambda d: ReducioVAE.from_single_file(d / "foreign.ckpt")),
    lib("diffusers weights as a single file", CheckpointError, r"does not match ReducioVAE: \d+ unexpected", lambda d: ReducioVAE.from_single_file(d / "vae" / WEIGHTS)),
    lib("missing model folder", ModelNotFoundError, "no such file or folder", lambda d: ReducioVAE.from_pretrained(d / "nope")),
    lib("missing relative model path", ModelNotFoundError, "no such file or folder", lambda d: ReducioVAE.from_pretrained("./models/nope")),
    lib("missing single file", ModelNotFoundError, "no such file", lambda d: ReducioVAE.from_single_file(d / "nope.ckpt")),
    cli("missing --vae", ModelNotFoundError, "no such file or folder", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--vae", "{d}/nope", *CPU),
    # training
    cli("unknown --set key", ConfigError, "unknown key 'optim.learning_rate'", "train", "vae", "--output-dir", "{d}/t", "--set", "optim.learning_rate=1"),
    cli("--set without a value", ConfigError, "--set expects KEY.SUB=VALUE", "train", "vae", "--output-dir", "{d}/t", "--set", "optim.lr"),
    cli("--set of the wrong type", ConfigError, "optim.lr must be a number", "train", "vae", "--output-dir", "{d}/t", "--set", "optim.lr=abc"),
    cli("--set NaN", ConfigError, "optim.weight_decay must be a finite number, got .nan.", "train", "vae", "--output-dir", "{d}/t", "--set", "optim.weight_decay=nan"),
    cli("resume without checkpoints", CheckpointError, "no complete checkpoint", "train", "vae", "--output-dir", "{d}/t-empty", "--resume"),
    cli("resume from a missing path", CheckpointError, "is not a complete checkpoint", "train", "vae", "--resume", "{d}/nope"),
    cli("resume, damaged training.pt", CheckpointError, "training.pt .*step-00000001 is damaged", "train", "vae", "--output-dir", "{d}/run-training-pt", "--resume", "--max-steps", "2"),
    cli("resume, damaged state.json", CheckpointError, "state.json .*step-00000001 is damaged", "train", "vae", "--output-dir", "{d}/run-state-json", "--resume", "--max-steps", "2"),
    cli("resume, truncated weights", CheckpointError, r"models/\w+.safetensors .*is damaged", "train", "vae", "--output-dir", "{d}/run-model", "--resume", "--max-steps", "2"),
    # numeric options (argparse)
    cli("--fps nan", USAGE, "--fps: must be a finite number > 0, got nan", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--fps", "nan"),
    cli("--fps inf", USAGE, "--fps: must be a finite number > 0, got inf", "encode", "{d}/ok.mp4", "-o", "{d}/o.safetensors", "--fps", "inf"),
    cli("--start negative", USAGE, "--start: must be a finite number >= 0", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--start", "-1"),
    cli("--batch-size 0", USAGE, "--batch-size: must be an integer >= 1, got 0", "decode", "{d}/lat-int.safetensors", "-o", "{d}/o", "--batch-size", "0"),
    cli("--frames negative", USAGE, "--frames: must be an integer >= 0", "reconstruct", "{d}/ok.mp4", "-o", "{d}/o.mp4", "--frames", "-3"),
    cli("--guidance nan", USAGE, "--guidance: must be a finite number >= 0, got nan", "generate", PROMPT, "-o", "{d}/g.mp4", "--guidance", "nan"),
    cli("--count negative", USAGE, "--count: must be an integer >= 1", "data", "synth", "-o", "{d}/s", "--count", "-1"),
    cli("--max-steps 0", USAGE, "--max-steps: must be an integer >= 1", "train", "vae", "--max-steps", "0"),
    # output paths
    cli("several inputs, one output file", OutputPathError, "2 inputs give 2 videos", "reconstruct", "{d}/sizes", "-o", "{d}/o.mp4", *CPU),
    cli("existing folder as the latent file", OutputPathError, "is an existing folder", "encode", "{d}/ok.mp4", "-o", "{d}/dir.safetensors", *CPU),
    cli("output folder under a file", OutputPathError, "is a file", "data", "synth", "--count", "1", "-o", "{d}/file/shapes"),
    cli("existing folder as the video", OutputPathError, "is an existing folder", "generate", PROMPT, "-o", "{d}/dir.mp4"),
]


# ------------------------------------------------------------------------------------- the tests


def test_the_suite_is_broad():
    assert len(CASES) >= 40 and len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_in_one_line(case, root, capsys):
    if case.call is not None:
        with pytest.raises(case.error, match=case.match) as info:
            case.call(root)
        assert "\n" not in str(info.value), str(info.value)
        return
    argv = case.argv(root)
    if case.error == USAGE:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        _one_error_line(capsys.readouterr().err, case.match)
        return
    # the class, from the command's own function ...
    args = build_parser().parse_args(argv)
    with pytest.raises(case.error, match=case.match) as info:
        load_command(args).run(args)
    assert "\n" not in str(info.value), str(info.value)
    capsys.readouterr()
    # ... and what a user sees: exit status 1, one line on stderr, no traceback
    assert main(argv) == 1
    _one_error_line(capsys.readouterr().err, case.match)


def _one_error_line(err: str, match: str) -> None:
    import re

    assert "Traceback" not in err, err
    lines = [line.split("\r")[-1] for line in err.splitlines()]
    lines = [line for line in lines if line.strip() and "/s]" not in line]  # progress bars drawn before the error
    assert len(lines) == 1, err
    assert " error: " in lines[0] and re.search(match, lines[0]), lines[0]
    assert len(lines[0]) < 1000, lines[0]


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "RGBA-opaque"])
def test_other_image_modes_are_read_as_their_rgb(tmp_path, mode):
    """Grey, palette, 16-bit grey and opaque RGBA images are converted, not refused, and keep their pixels."""
    grey = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) % 251
    rgb = np.dstack([grey, (grey * 3) % 256, (grey * 7) % 256]).astype(np.uint8)
    if mode == "L":
        image, expected = Image.fromarray(grey.astype(np.uint8), "L"), np.dstack([grey] * 3)
    elif mode == "I;16":
        image, expected = Image.fromarray((grey * 257).astype(np.uint16)), np.dstack([grey] * 3)
    elif mode == "P":
        image = Image.fromarray(rgb).quantize(64)
        expected = np.asarray(image.convert("RGB"))
    else:
        image, expected = Image.fromarray(np.dstack([rgb, np.full((64, 64), 255, np.uint8)]), "RGBA"), rgb
    image.save(tmp_path / "image.png")
    video = read_video(tmp_path / "image.png", num_frames=1)  # 3 1 H W in [-1, 1]
    got = ((video[:, 0].permute(1, 2, 0) + 1) * 127.5).round().numpy()
    assert np.abs(got - expected).max() <= 1
