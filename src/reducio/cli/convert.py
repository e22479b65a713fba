"""`reducio convert`: an official Reducio-VAE checkpoint -> a diffusers model folder (config.json +
diffusion_pytorch_model.safetensors); a VAE, DiT or pipeline folder in the older reducio layout ->
diffusers' layout, same weights."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an official Reducio-VAE .ckpt to config.json + model.safetensors",
        description="Read an official Reducio-VAE checkpoint without running code from it, load "
        "it strictly into ReducioVAE and save it in reducio's format.",
    )
    parser.add_argument("input", help="official checkpoint, e.g. reducio-ft4-fs32-attn23.ckpt, or a "
                                      "VAE, DiT or pipeline folder in the older reducio layout "
                                      "(model.safetensors), rewritten in diffusers' layout")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (or a .safetensors path with --single-file)")
    parser.add_argument("--config", default=None,
                        help="preset name (ft4, ft2, ft4-1024, ...), official YAML or config.json; "
                        "default: detected from the weights' shapes")
    parser.add_argument("--single-file", action="store_true",
                        help="write one self-describing .safetensors instead of a folder")
    parser.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                        help="store the weights in this dtype (default float32)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if (Path(args.input) / "model_index.json").is_file():
        return convert_pipeline(args)
    from reducio.models.conversion import (  # torch only when run
        convert_official_vae,
        is_model_folder,
        upgrade_model_folder,
    )

    if is_model_folder(args.input):
        if args.config is not None or args.single_file:
            from reducio.errors import ConfigError

            raise ConfigError("--config and --single-file apply to official checkpoints; a model "
                              "folder converts without them")
        report = upgrade_model_folder(args.input, args.output)
        for line in report.lines():
            print(line)
        return 0
    report = convert_official_vae(args.input, args.output, config=args.config,
                                  single_file=args.single_file, torch_dtype=args.dtype)
    for line in report.lines():
        print(line)
    return 0


def convert_pipeline(args: argparse.Namespace) -> int:
    """A pipeline folder in the older reducio layout -> diffusers' layout (model_index.json +
    one folder per component), same weights; components it named instead of holding (the
    packaged MiniLM, a built-in VAE) stay named."""
    import json
    import shutil
    from pathlib import Path

    from reducio.errors import ConfigError
    from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline

    source, output = Path(args.input), Path(args.output)
    if args.config is not None or args.single_file:
        raise ConfigError("--config and --single-file apply to VAE checkpoints; a pipeline folder "
                          "converts without them")
    index = json.loads((source / "model_index.json").read_text())
    cls = (ReducioTextToVideoPipeline if index.get("_class_name") == "ReducioTextToVideoPipeline"
           else ReducioImageToVideoPipeline)
    pipe = cls.from_pretrained(source)
    pipe.save_pretrained(output)
    for name in (pipe.config.component_sources or {}):
        shutil.rmtree(output / name, ignore_errors=True)  # named, not copied (see from_pretrained)
    print(f"wrote {output}: a {cls.__name__} in diffusers' layout; load it with "
          f"{cls.__name__}.from_pretrained({str(output)!r})")
    return 0
