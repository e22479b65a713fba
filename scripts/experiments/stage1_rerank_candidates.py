"""Score saved stage-1 candidates with a stage-1 folder's reranker (an experiment).

Candidates come from `scripts/experiments/stage1_best_of_n.py --save FILE` (frames, captions and
the shapes evaluator's verdicts); several files (other seeds) are joined along the candidate axis.
For N = 1 .. total it prints the joint accuracy of the first candidate, of the candidates on
average, of the one the reranker picks and of an oracle.

    python scripts/experiments/stage1_rerank_candidates.py runs/stage1-reranked \
        runs/bestofn-validation.pt runs/bestofn-validation-seed4.pt
"""

from __future__ import annotations

import argparse

import torch

from reducio.pipelines.stage1 import ReducioStage1Generator


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage1", help="stage-1 folder with a reranker")
    parser.add_argument("candidates", nargs="+")
    args = parser.parse_args()

    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    if gen.reranker is None:
        raise SystemExit(f"{args.stage1} has no reranker (scripts/train_stage1_reranker.py attaches one)")
    files = [torch.load(f, weights_only=False) for f in args.candidates]
    captions = files[0]["captions"]
    if any(f["captions"] != captions for f in files):
        raise SystemExit("the candidate files hold different captions")
    images = torch.cat([f["images"] for f in files], 1)                          # P N 3 H W
    correct = torch.cat([f["correct"] for f in files], 1)                        # P N
    count, n = correct.shape
    text = gen.encode_prompt(captions)
    tokens = text.tokens.repeat_interleave(n, 0)
    mask = text.mask.repeat_interleave(n, 0)
    score = gen.reranker.score(images.flatten(0, 1), tokens, mask).view(count, n)
    rows = torch.arange(count)
    two = torch.tensor([" and " in caption for caption in captions])             # two-object prompts
    for k in range(1, n + 1):
        picked = correct[rows, score[:, :k].argmax(1)].float()
        oracle = correct[:, :k].any(1).float()
        print(f"N={k}: first {correct[:, 0].float().mean():.3f}, mean {correct[:, :k].float().mean():.3f}, "
              f"reranked {picked.mean():.3f}, oracle {oracle.mean():.3f}; one / two objects: "
              f"first {correct[~two, 0].float().mean():.3f} / {correct[two, 0].float().mean():.3f}, "
              f"reranked {picked[~two].mean():.3f} / {picked[two].mean():.3f}, "
              f"oracle {oracle[~two].mean():.3f} / {oracle[two].mean():.3f}")


if __name__ == "__main__":
    main()
