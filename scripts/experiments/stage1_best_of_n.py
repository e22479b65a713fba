"""Stage 1 best-of-N by the model's own text likelihood (an experiment).

For each caption, N content frames are sampled as the pipeline does; each is then scored by the
same stage-1 model as a diffusion classifier (Li et al. 2023, "Your diffusion model is secretly a
zero-shot classifier"): noised at a few fixed levels with fixed noise, denoised with the caption
and with the null text; the score is how much the caption lowers the x0 error,
    score(x) = mean_k ||x0(x_k, null) - x||^2 - ||x0(x_k, caption) - x||^2,
an estimate of log p(caption | x) up to a constant. The frame with the highest score is kept. The
shapes evaluator only judges the result: it never takes part in the choice.

    python scripts/experiments/stage1_best_of_n.py --stage1 DIR --split validation --count 160 --n 4
Prints joint accuracy of the first candidate (what the pipeline makes now), of the chosen one
(two scores: the likelihood ratio, and the conditional error alone), and of an oracle.
"""

from __future__ import annotations

import argparse
import time

import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval.shapes import ShapesEvaluator
from reducio.pipelines.components import load_text_encoder
from reducio.pipelines.stage1 import ReducioStage1Generator

ATTRIBUTES = ("background", "colour", "shape", "object_count")


@torch.no_grad()
def likelihood_scores(gen, images, tokens, mask, sigmas, draws, seed):
    """(B,) ratio score and (B,) conditional x0 error of images (B, 3, H, W) under their captions."""
    x = images[:, :, None]                                                        # B 3 1 H W
    g = torch.Generator().manual_seed(seed)
    ratio = torch.zeros(x.shape[0])
    cond_err = torch.zeros(x.shape[0])
    steps = gen.objective.config.num_train_timesteps
    for sigma in sigmas:
        for _ in range(draws):
            noise = torch.randn(x.shape[1:], generator=g).expand_as(x)             # same noise for all
            noisy = (1 - sigma) * x + sigma * noise
            t = torch.full((x.shape[0],), sigma * steps)
            both = gen.denoise(torch.cat([noisy, noisy]), torch.cat([t, t]), text=torch.cat([tokens, tokens]),
                               text_mask=torch.cat([mask, mask]),
                               drop_text=torch.arange(2 * x.shape[0]) >= x.shape[0])
            cond, uncond = both.chunk(2)
            e_c = (cond - x).pow(2).flatten(1).mean(1)
            e_u = (uncond - x).pow(2).flatten(1).mean(1)
            ratio += e_u - e_c
            cond_err += e_c
    return ratio, cond_err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1", default="src/reducio/assets/pipeline-tiny")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--count", type=int, default=160)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--sigmas", default="0.2,0.35,0.5,0.65,0.8")
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None,
                        help="write the candidates, captions and verdicts here (torch.save) for rerankers")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    gen.set_text_encoder(load_text_encoder("minilm"))
    captions = [make_clip(i, args.split, 64, 16).caption for i in range(args.count)]
    evaluator = ShapesEvaluator()
    text = gen.encode_prompt(captions)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    correct = torch.zeros(args.count, args.n, dtype=torch.bool)
    candidates = torch.zeros(args.count, args.n, 3, 64, 64)
    ratio = torch.zeros(args.count, args.n)
    cond_err = torch.zeros(args.count, args.n)
    started = time.time()
    for j in range(args.n):
        images = gen(prompt_embeds=text.tokens, prompt_attention_mask=text.mask,
                     generator=torch.Generator().manual_seed(args.seed + j))      # B 3 H W
        candidates[:, j] = images
        ratio[:, j], cond_err[:, j] = likelihood_scores(gen, images, text.tokens, text.mask, sigmas,
                                                        args.draws, seed=1234)
        for i, (image, caption) in enumerate(zip(images, captions)):
            v = evaluator.evaluate(image[:, None].expand(3, 16, *image.shape[1:]), caption)
            correct[i, j] = all(bool(getattr(v, name)) for name in ATTRIBUTES)
        print(f"candidate {j}: joint {correct[:, j].float().mean():.3f} ({time.time() - started:.0f} s)", flush=True)
    if args.save:
        torch.save({"images": candidates, "captions": captions, "correct": correct, "ratio": ratio,
                    "cond_err": cond_err, "split": args.split, "stage1": args.stage1}, args.save)
    rows = torch.arange(args.count)
    for n in range(1, args.n + 1):
        by_ratio = correct[rows, ratio[:, :n].argmax(1)].float().mean()
        by_cond = correct[rows, cond_err[:, :n].argmin(1)].float().mean()
        print(f"N={n}: first {correct[:, 0].float().mean():.3f}, mean of candidates "
              f"{correct[:, :n].float().mean():.3f}, chosen by ratio {by_ratio:.3f}, by conditional "
              f"error {by_cond:.3f}, oracle {correct[:, :n].any(1).float().mean():.3f}")


if __name__ == "__main__":
    main()
