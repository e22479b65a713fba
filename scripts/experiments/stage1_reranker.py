"""A small learned image-text matcher (CLIP-style) to rerank stage-1 candidates (issue 5 experiment).

Trained contrastively on the shapes world's `train` content frames and captions (the renderer makes
training data only); captions are embedded by the built-in MiniLM (frozen, mean-pooled over the
caption's tokens), frames by a small CNN. Then used, like DALL-E's CLIP reranking, to pick one of
N stage-1 candidates per prompt: the one whose embedding matches the prompt's best. The shapes
evaluator only judges the outcome.

    python scripts/experiments/stage1_reranker.py train --minutes 15 -o runs/reranker.pt
    python scripts/experiments/stage1_reranker.py rerank runs/reranker.pt runs/bestofn-validation.pt
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn


class FrameTower(nn.Module):
    """(B, 3, 64, 64) in [-1, 1] -> (B, dim) unit vectors."""

    def __init__(self, dim: int = 384, width: int = 32) -> None:
        super().__init__()
        layers, c = [], 3
        for w in (width, 2 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1), nn.GroupNorm(8, w), nn.SiLU(),
                       nn.Conv2d(w, w, 3, padding=1), nn.GroupNorm(8, w), nn.SiLU()]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.body(images).mean((2, 3))), dim=-1)


class Matcher(nn.Module):
    def __init__(self, text_dim: int = 384, dim: int = 384) -> None:
        super().__init__()
        self.frames = FrameTower(dim)
        self.text = nn.Sequential(nn.Linear(text_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(2.7))

    def embed_text(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(pooled), dim=-1)


def pooled_captions(encoder, captions, cache):
    missing = [c for c in dict.fromkeys(captions) if c not in cache]
    if missing:
        text = encoder.encode(missing)
        mask = text.mask.float()[..., None]
        pooled = (text.tokens.float() * mask).sum(1) / mask.sum(1)
        cache.update(zip(missing, pooled))
    return torch.stack([cache[c] for c in captions])


def train(args) -> None:
    from reducio.pipelines.components import load_text_encoder
    from reducio.training.stage1_objective import ContentFrameDataset

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    encoder = load_text_encoder("minilm")
    data = ContentFrameDataset("train", length=10_000_000)
    model = Matcher()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    cache: dict = {}
    started, step, g = time.time(), 0, torch.Generator().manual_seed(0)
    while time.time() - started < 60 * args.minutes:
        idx = torch.randint(0, len(data), (args.batch,), generator=g).tolist()
        items = [data[i] for i in idx]
        images = torch.stack([it["image"] for it in items])
        captions = [it["caption"] for it in items]
        with torch.no_grad():
            text = pooled_captions(encoder, captions, cache)
        img = model.frames(images)
        txt = model.embed_text(text)
        logits = model.log_scale.exp().clamp(max=100) * img @ txt.T
        # captions repeat within a batch: every frame whose caption equals column j's is a positive
        same = torch.tensor([[a == b for b in captions] for a in captions], dtype=torch.float32)
        target = same / same.sum(1, keepdim=True)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target.T / target.T.sum(1, keepdim=True)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} scale {model.log_scale.exp().item():.1f} "
                  f"({time.time() - started:.0f} s)", flush=True)
    torch.save({"state": model.state_dict(), "steps": step}, args.output)
    print(f"saved {args.output} after {step} steps")


@torch.no_grad()
def rerank(args) -> None:
    from reducio.pipelines.components import load_text_encoder

    model = Matcher()
    model.load_state_dict(torch.load(args.model, weights_only=True)["state"])
    model.eval()
    data = torch.load(args.candidates, weights_only=False)
    images, captions, correct = data["images"], data["captions"], data["correct"]
    count, n = correct.shape
    text = model.embed_text(pooled_captions(load_text_encoder("minilm"), captions, {}))   # P D
    img = model.frames(images.flatten(0, 1)).view(count, n, -1)                          # P N D
    score = (img * text[:, None]).sum(-1)                                                 # P N
    rows = torch.arange(count)
    for k in range(1, n + 1):
        chosen = correct[rows, score[:, :k].argmax(1)].float().mean()
        print(f"N={k}: first {correct[:, 0].float().mean():.3f}, mean {correct[:, :k].float().mean():.3f}, "
              f"reranked {chosen:.3f}, oracle {correct[:, :k].any(1).float().mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=15)
    t.add_argument("--batch", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("-o", "--output", required=True)
    r = sub.add_parser("rerank")
    r.add_argument("model")
    r.add_argument("candidates")
    args = parser.parse_args()
    train(args) if args.command == "train" else rerank(args)


if __name__ == "__main__":
    main()
