"""Prompt following of a text-to-video pipeline on the synthetic shapes world.

For each split (default `test` and `heldout`) take the canonical captions of clips 0..N-1, generate
one 16-frame video per caption (seed = base seed + index), and judge it with the shapes-world
evaluator (reducio.eval.ShapesEvaluator): accuracy per attribute (colour, shape, direction,
background) and joint (all correct). The control pairs each video with the caption of another
clip of the same split (a fixed random permutation): it must land near chance.
`by_object_count` splits the accuracy by the number of objects the prompt names (1 or 2).

    python scripts/eval_builtin_pipeline.py -o runs/eval-pipeline-tiny.json
    python scripts/eval_builtin_pipeline.py --steps 8 --count 200 -o runs/eval-pipeline-8.json
    python scripts/eval_builtin_pipeline.py --pipeline path/to/pipeline --splits test
    python scripts/eval_builtin_pipeline.py --image-to-video --pipeline DIR -o runs/eval-i2v.json

`--image-to-video` measures stage 2 alone: each video is generated from its clip's true content
frame (frame 7, rendered by the world) and caption, so stage-1 errors do not count.

Videos are generated in batches of `--batch`; nothing is written but the JSON report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip, sample_scene, seed_for
from reducio.eval.shapes import ShapesAccuracy, ShapesEvaluator
from reducio.pipelines import ReducioImageToVideoPipeline, ReducioTextToVideoPipeline


def captions(split: str, count: int, size: int) -> list[str]:
    """Canonical captions of clips 0..count-1 of a split (the scenes only; nothing rendered)."""
    return [sample_scene(seed_for(i, split), split, size=size).caption for i in range(count)]


def run_split(pipe, evaluator, split: str, args) -> dict:
    prompts = captions(split, args.count, args.size)
    own, control = ShapesAccuracy(), ShapesAccuracy()
    by_count: dict[int, ShapesAccuracy] = {}      # one- and two-object prompts fail differently
    permutation = np.random.default_rng(12345).permutation(len(prompts))
    # a derangement: no video is judged against its own caption in the control
    for i in np.flatnonzero(permutation == np.arange(len(prompts))):
        j = (i + 1) % len(prompts)
        permutation[i], permutation[j] = permutation[j], permutation[i]
    joint_per_prompt = []
    start = time.perf_counter()
    for lo in range(0, len(prompts), args.batch):
        batch = prompts[lo:lo + args.batch]
        videos = []
        for k, prompt in enumerate(batch):  # one generator per video: results independent of --batch
            generator = torch.Generator().manual_seed(args.seed + lo + k)
            image = None
            if args.image_to_video:
                clip = make_clip(lo + k, split, size=args.size)
                image = torch.from_numpy(clip.video[7]).permute(2, 0, 1).float()[None] / 127.5 - 1
            videos.append(_generate(pipe, prompt, generator, args, image))
        for k, video in enumerate(videos):
            index = lo + k
            verdict = evaluator.evaluate(video, prompts[index])
            own.update(verdict)
            by_count.setdefault(len(verdict.objects), ShapesAccuracy()).update(verdict)
            joint_per_prompt.append(int(verdict.joint))
            control.update(evaluator.evaluate(video, prompts[permutation[index]]))
        print(f"{split}: {min(lo + args.batch, len(prompts))}/{len(prompts)} "
              f"joint {own.summary()['joint']:.3f} control {control.summary()['joint']:.3f}",
              file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    return {"prompts": len(prompts), "accuracy": own.summary(), "shuffled_control": control.summary(),
            "by_object_count": {f"{n}": acc.summary() for n, acc in sorted(by_count.items())},
            "seconds": round(seconds, 1), "seconds_per_video": round(seconds / len(prompts), 3),
            "joint_per_prompt": joint_per_prompt}   # for paired comparisons of two pipelines


def _generate(pipe, prompt: str, generator: torch.Generator, args,
              image: torch.Tensor | None) -> torch.Tensor:
    kwargs = {"num_inference_steps": args.steps, "generator": generator}
    if args.guidance is not None:
        kwargs["guidance_scale"] = args.guidance
    if args.stage1_candidates is not None and image is None:
        kwargs["num_candidates"] = args.stage1_candidates
    if image is not None:  # image-to-video: the content frame (1, 3, S, S) in [-1, 1]
        out = pipe(image, prompt, output_type="pt", **kwargs)
    else:
        out = pipe(prompt, output_type="pt", height=args.size, width=args.size, **kwargs)
    return out.frames[0].permute(1, 0, 2, 3) * 2.0 - 1.0  # T 3 H W in [0, 1] -> 3 T H W in [-1, 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", default=None, help="pipeline folder (default: the built-in one)")
    parser.add_argument("--splits", nargs="+", default=["test", "heldout"])
    parser.add_argument("--count", type=int, default=200, help="prompts per split")
    parser.add_argument("--steps", type=int, default=None, help="DiT sampling steps (default: the pipeline's)")
    parser.add_argument("--guidance", type=float, default=None, help="text guidance (default: the pipeline's)")
    parser.add_argument("--stage1-candidates", type=int, default=None,
                        help="stage-1 candidates per video (default: the pipeline's; 1 = no reranking)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=20, help="prompts between progress lines")
    parser.add_argument("--image-to-video", action="store_true",
                        help="stage 2 alone: generate from each clip's true content frame")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.stage1_candidates is not None and args.image_to_video:
        parser.error("--stage1-candidates reranks stage 1's frames; --image-to-video has no stage 1")
    torch.set_num_threads(args.threads)

    kind = ReducioImageToVideoPipeline if args.image_to_video else ReducioTextToVideoPipeline
    pipe = kind.from_pretrained(args.pipeline or "tiny")
    pipe.set_progress_bar_config(disable=True)
    evaluator = ShapesEvaluator()
    report = {"pipeline": args.pipeline or "builtin", "image_to_video": args.image_to_video,
              "steps": args.steps, "guidance": args.guidance, "stage1_candidates": args.stage1_candidates,
              "seed": args.seed, "size": args.size, "threads": args.threads,
              "splits": {split: run_split(pipe, evaluator, split, args) for split in args.splits}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
