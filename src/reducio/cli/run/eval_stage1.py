"""`reducio eval stage1`: a stage-1 model's x0 error per noise level and the accuracy of its samples
per guidance scale and sampler, printed one line each (`reducio.eval.stage1_world`)."""

from __future__ import annotations

import argparse

import torch

from reducio.data.synthetic.world import parse_split_spec
from reducio.eval.shapes import ShapeConfusion, ShapesEvaluator
from reducio.eval.stage1_world import guidance_accuracy, mean_colour_error, world_frames, x0_error_by_sigma
from reducio.pipelines.components import load_text_encoder
from reducio.pipelines.stage1 import ReducioStage1Generator


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    gen.set_text_encoder(load_text_encoder("minilm"))
    captions, frames, clip_frames = world_frames(args.count, parse_split_spec(args.split)[0])
    if args.sigmas:
        print(f"x0 MSE per sigma ({args.count} {args.split} frames; per-frame mean colour: {mean_colour_error(frames):.4f})")
        for sigma, error in x0_error_by_sigma(gen, captions, frames, args.sigmas).items():
            print(f"  sigma {sigma:.3f}: {error:.4f}")
    evaluator = ShapesEvaluator()
    own = gen.config
    for sampler in args.sampler:
        gen.config = own if sampler is None else own.replace(sampler=sampler)
        for scale in args.guidance:
            confusion = ShapeConfusion()
            hits = guidance_accuracy(gen, captions, scale=scale, steps=args.steps, seed=args.seed,
                                     evaluator=evaluator, frames=clip_frames, confusion=confusion)
            print(f"sampler {gen.config.sampler or 'default'}, guidance {scale:g}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in hits.items()), flush=True)
            print("  shapes drawn: " + ", ".join(f"{k} {n}" for k, n in confusion.summary().items()), flush=True)
    return 0
