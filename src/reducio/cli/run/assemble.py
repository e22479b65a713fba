"""`reducio assemble`: what runs once the arguments are parsed (reducio.pipelines.assemble)."""

from __future__ import annotations

import argparse

from reducio.pipelines.assemble import assemble_text_to_video


def run(args: argparse.Namespace) -> int:
    done = assemble_text_to_video(
        args.output, pipeline=args.pipeline, stage1=args.stage1, stage1_guidance=args.stage1_guidance,
        stage1_sampler=args.stage1_sampler, transformer=args.transformer, reranker=args.reranker,
        stage1_candidates=args.stage1_candidates, vae=args.vae, text_encoder=args.text_encoder,
        steps=args.steps, shapes_world_prompts=args.shapes_world_prompts, weights_dtype=args.weights_dtype)
    parts = ", ".join(f"{name} <- {source}" for name, source in done["parts"].items())
    named = ", ".join(f"{name}={source}" for name, source in done["component_sources"].items()) or "none"
    print(f"wrote {done['output']}: a {done['class']}, weights stored as {done['weights_dtype']}; {parts}; "
          f"named, not copied: {named}")
    return 0
