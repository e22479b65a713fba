"""`reducio convert`: an official VAE checkpoint, or a model / pipeline folder in the older reducio
layout, rewritten in diffusers' layout."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from reducio.errors import ConfigError
from reducio.models.conversion import convert_official_vae, is_model_folder, upgrade_model_folder
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline


def run(args: argparse.Namespace) -> int:
    if (Path(args.input) / "model_index.json").is_file():
        return convert_pipeline(args)
    if is_model_folder(args.input):
        if args.config is not None or args.single_file:
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
