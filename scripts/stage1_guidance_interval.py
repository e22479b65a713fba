"""Built-in stage 1 with classifier-free guidance applied only inside a noise interval.

Guidance-interval sampling (guidance where sigma is in [lo, hi], none elsewhere) on the shipped
stage-1 weights and sampler, judged like scripts/eval_stage1.py (one sample per caption, the shapes
evaluator on the frame). An experiment, not a pipeline option: it did not beat plain guidance
(docs/generate.md).

    python scripts/stage1_guidance_interval.py --split validation --count 80 3,0,1 3,0.5,1 5,0.3,0.9
"""

from __future__ import annotations

import argparse
import time

import torch

from reducio.data.synthetic.world import make_clip
from reducio.diffusion.guidance import guided_prediction
from reducio.diffusion.schedulers import init_noise_sigma, make_scheduler, scale_model_input
from reducio.eval.shapes import ShapesEvaluator
from reducio.pipelines.components import load_text_encoder
from reducio.pipelines.stage1 import ReducioStage1Generator

ATTRIBUTES = ("background", "colour", "shape", "object_count")


def parse_setting(text: str) -> tuple[float, float, float]:
    try:
        scale, lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected GUIDANCE,SIGMA_LO,SIGMA_HI, e.g. 3,0.5,1") from None
    return scale, lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", type=parse_setting, help="GUIDANCE,SIGMA_LO,SIGMA_HI")
    parser.add_argument("--stage1", default="src/reducio/assets/pipeline-tiny")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", default=None, help="e.g. euler-stochastic (default: the model's own)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    gen.set_text_encoder(load_text_encoder("minilm"))
    if args.sampler is not None:
        gen.config = gen.config.replace(sampler=args.sampler)
    captions = [make_clip(i, args.split, 64, 16).caption for i in range(args.count)]
    evaluator = ShapesEvaluator()
    with torch.no_grad():
        text = gen.encode_prompt(captions)
        for scale, lo, hi in args.settings:
            started = time.time()
            generator = torch.Generator().manual_seed(args.seed)
            scheduler = make_scheduler(gen.config.diffusion, gen.config.sampler)
            scheduler.set_timesteps(args.steps)
            latent = torch.randn((args.count, 3, 1, 64, 64), generator=generator) * init_noise_sigma(scheduler)
            for t in scheduler.timesteps:
                sigma = float(t) / gen.objective.config.num_train_timesteps
                model_input = scale_model_input(scheduler, latent, t)
                prediction = guided_prediction(gen.denoise, model_input, t, text=text.tokens, text_mask=text.mask,
                                               text_scale=scale if lo <= sigma <= hi else 1.0)
                prediction = gen.objective.scheduler_prediction(prediction, model_input, t)
                latent = scheduler.step(prediction.float(), t, latent, generator=generator).prev_sample
            hits = dict.fromkeys((*ATTRIBUTES, "joint"), 0)
            for image, caption in zip(latent[:, :, 0].clamp(-1, 1), captions):
                verdict = evaluator.evaluate(image[:, None].expand(3, 16, *image.shape[1:]), caption)
                for name in ATTRIBUTES:
                    hits[name] += bool(getattr(verdict, name))
                hits["joint"] += all(bool(getattr(verdict, name)) for name in ATTRIBUTES)
            print(f"guidance {scale:g} for sigma in [{lo:g}, {hi:g}] ({gen.config.sampler}, {args.steps} steps): "
                  + ", ".join(f"{k} {v / args.count:.3f}" for k, v in hits.items())
                  + f" ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
