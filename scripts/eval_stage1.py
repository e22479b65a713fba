"""The built-in stage-1 image generator on its own: x0 error per noise level, and what its samples show.

    reducio train export runs/stage1-tiny-x -o models/stage1 --raw     # a checkpoint -> a model folder
    python scripts/eval_stage1.py --stage1 models/stage1 --count 40 --guidance 1 2 3
    python scripts/eval_stage1.py --stage1 models/stage1 --sigmas 0.5 0.9 0.97 0.99 1.0 --count 8
    python scripts/eval_stage1.py --stage1 models/stage1 --count 80 --guidance 2 3 --sampler euler euler-stochastic

`--sigmas`: the x0 error (MSE on [-1, 1] pixels) of one denoising call on the true middle frames of
test clips noised to each sigma, next to predicting each frame's mean colour. A model that never
trained near sigma 1 (where every sampler starts) shows a cliff there (docs/decisions.md).
`--guidance`: for each scale, one sample per test caption (30 Euler steps unless --steps), judged by
the shapes-world evaluator as a still clip: background, colour, shape, whether exactly the
prompt's objects were found, and all four at once (joint). `--sampler`: one or more sampler names
(default: the model's own); every sampler is run at every guidance scale.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval.shapes import ShapesEvaluator
from reducio.pipelines.components import load_text_encoder
from reducio.pipelines.stage1 import ReducioStage1Generator

ATTRIBUTES = ("background", "colour", "shape", "object_count", "joint")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1", required=True, help="a stage-1 model folder")
    parser.add_argument("--count", type=int, default=40, help="test captions / frames")
    parser.add_argument("--sigmas", type=float, nargs="*", default=[])
    parser.add_argument("--guidance", type=float, nargs="*", default=[])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sampler", nargs="+", default=[None], help="e.g. euler euler-stochastic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    gen.set_text_encoder(load_text_encoder("minilm"))
    clips = [make_clip(i, "test", 64, 16) for i in range(args.count)]
    captions = [clip.caption for clip in clips]
    frames = torch.stack([torch.from_numpy(np.asarray(c.video[7])).permute(2, 0, 1).float() / 127.5 - 1
                          for c in clips])                                            # B 3 H W
    with torch.no_grad():
        if args.sigmas:
            text = gen.encode_prompt(captions)
            x0 = frames[:, :, None]                                                   # B 3 1 H W
            baseline = ((x0 - x0.mean(dim=(2, 3, 4), keepdim=True)) ** 2).mean().item()
            print(f"x0 MSE per sigma ({args.count} test frames; per-frame mean colour: {baseline:.4f})")
            for sigma in args.sigmas:
                t = torch.full((len(clips),), sigma * gen.objective.config.num_train_timesteps)
                noisy = gen.objective.add_noise(x0, torch.randn_like(x0), t)
                prediction = gen.denoise(noisy, t, text=text.tokens, text_mask=text.mask)
                error = ((gen.objective.predict_x0(noisy, prediction, t) - x0) ** 2).mean().item()
                print(f"  sigma {sigma:.3f}: {error:.4f}")
        evaluator = ShapesEvaluator()
        own = gen.config
        for sampler in args.sampler:
            gen.config = own if sampler is None else own.replace(sampler=sampler)
            for scale in args.guidance:
                images = gen(captions, num_inference_steps=args.steps, guidance_scale=scale,
                             generator=torch.Generator().manual_seed(args.seed))     # B 3 H W
                hits = dict.fromkeys(ATTRIBUTES, 0)
                for image, caption in zip(images, captions):
                    verdict = evaluator.evaluate(image[:, None].expand(3, 16, *image.shape[1:]), caption)
                    for name in ATTRIBUTES[:-1]:
                        hits[name] += bool(getattr(verdict, name))
                    hits["joint"] += all(bool(getattr(verdict, name)) for name in ATTRIBUTES[:-1])
                print(f"sampler {gen.config.sampler or 'default'}, guidance {scale:g}: "
                      + ", ".join(f"{k} {v / len(captions):.3f}" for k, v in hits.items()), flush=True)


if __name__ == "__main__":
    from reducio.errors import ReducioError

    try:
        main()
    except ReducioError as error:  # a bad path or model: the message, not a traceback
        raise SystemExit(f"{__file__}: error: {error}") from None
