"""Train the stage-1 reranker (`FrameTextMatcher`) on shapes-world frames and attach it to a
stage-1 folder, so that stage 1 can sample N frames per prompt and keep the best-matching one.

Contrastive (CLIP's symmetric InfoNCE, equal captions in a batch all count as positives) on the
`train` split's content frames, rendered on the fly (the renderer makes training data only);
captions embedded by the stage-1 generator's own text encoder (MiniLM for the built-in one),
frozen. Writes DST: the stage-1 folder SRC plus the reranker (config `reranker_dim`,
`num_candidates`); a state file next to it lets a killed run resume.

    python scripts/train_stage1_reranker.py --stage1 src/reducio/assets/pipeline-tiny/stage1 \
        -o runs/stage1-reranked --minutes 40 --candidates 4
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from reducio.models.frame_text_matcher import FrameTextMatcher
from reducio.pipelines.stage1 import ReducioStage1Generator
from reducio.training.stage1_objective import ContentFrameDataset


def caption_tokens(gen, captions, cache):
    missing = [c for c in dict.fromkeys(captions) if c not in cache]
    if missing:
        text = gen.encode_prompt(missing)
        for b, caption in enumerate(missing):
            cache[caption] = (text.tokens[b].float(), text.mask[b])
    return (torch.stack([cache[c][0] for c in captions]), torch.stack([cache[c][1] for c in captions]))


def save_state(path: Path, matcher, optimizer, generator, step: int) -> None:
    """Everything a resumed run needs, written atomically."""
    tmp = path.with_suffix(".tmp")
    torch.save({"matcher": matcher.state_dict(), "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(), "step": step}, tmp)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1", required=True, help="stage-1 folder to attach the reranker to")
    parser.add_argument("-o", "--output", required=True, help="the stage-1 folder with the reranker")
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--candidates", type=int, default=4, help="the folder's default num_candidates")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    matcher = FrameTextMatcher(gen.config.dit.text_dim, dim=args.dim, width=args.width)
    optimizer = torch.optim.AdamW(matcher.parameters(), lr=args.lr, weight_decay=0.01)
    data = ContentFrameDataset("train", size=gen.config.image_size, length=10_000_000)
    g = torch.Generator().manual_seed(args.seed)
    step, state_path = 0, Path(args.output + ".state.pt")
    if state_path.exists():
        state = torch.load(state_path, weights_only=True)
        matcher.load_state_dict(state["matcher"])
        optimizer.load_state_dict(state["optimizer"])
        g.set_state(state["generator"])
        step = state["step"]
        print(f"resumed from {state_path} at step {step}")
    cache: dict = {}
    started, last_save = time.time(), time.time()
    while time.time() - started < 60 * args.minutes and step < args.max_steps:
        indices = torch.randint(0, len(data), (args.batch,), generator=g).tolist()
        items = [data[i] for i in indices]
        images = torch.stack([item["image"] for item in items])                   # B 3 H W
        captions = [item["caption"] for item in items]
        with torch.no_grad():
            tokens, mask = caption_tokens(gen, captions, cache)
        same = torch.tensor([[a == b for b in captions] for a in captions])
        loss = matcher.contrastive_loss(images, tokens, mask, same)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - started:.0f} s)", flush=True)
        if time.time() - last_save > 300:
            save_state(state_path, matcher, optimizer, g, step)
            last_save = time.time()
    save_state(state_path, matcher, optimizer, g, step)
    gen.attach_reranker(matcher.eval(), num_candidates=args.candidates)
    gen.save_pretrained(args.output)
    print(f"wrote {args.output} (reranker after {step} steps, num_candidates {args.candidates})")


if __name__ == "__main__":
    main()
