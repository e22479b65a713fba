"""Train the stage-1 reranker (`FrameTextMatcher`) on shapes-world frames and attach it to a
stage-1 folder, so that stage 1 can sample N frames per prompt and keep the best-matching one.

Contrastive (CLIP's symmetric InfoNCE, equal captions in a batch all count as positives) on the
`train` split's content frames, rendered on the fly (the renderer makes training data only);
captions embedded by the stage-1 generator's own text encoder (MiniLM for the built-in one),
frozen. With `--hard-negatives K` each caption must also pick its own frame among K near misses
(the same scene with one visible thing changed: `reducio.data.synthetic.variants`), in-batch
positives are judged by what a frame shows (direction words ignored), and `--augment` blurs and
adds noise so that clean renders look more like generated frames. `--init DIR` starts from the
reranker stored in a stage-1 folder. Writes DST: the stage-1 folder SRC plus the reranker (config `reranker_dim`,
`num_candidates`); a state file next to it lets a killed run resume.

    python scripts/train_stage1_reranker.py --stage1 src/reducio/assets/pipeline-tiny \
        -o runs/stage1-reranked --minutes 40 --candidates 4
    python scripts/train_stage1_reranker.py --stage1 src/reducio/assets/pipeline-tiny \
        --init src/reducio/assets/pipeline-tiny --hard-negatives 3 --augment \
        -o runs/stage1-reranked-hn --minutes 35 --candidates 1
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from reducio.data.synthetic.render import render
from reducio.data.synthetic.variants import visible_key, visible_variants
from reducio.data.synthetic.world import sample_scene, seed_for
from reducio.models.frame_text_matcher import FrameTextMatcher
from reducio.pipelines.stage1 import ReducioStage1Generator


def caption_tokens(gen, captions, cache):
    missing = [c for c in dict.fromkeys(captions) if c not in cache]
    if missing:
        text = gen.encode_prompt(missing)
        for b, caption in enumerate(missing):
            cache[caption] = (text.tokens[b].float(), text.mask[b])
    return (torch.stack([cache[c][0] for c in captions]), torch.stack([cache[c][1] for c in captions]))


def frame(scene) -> torch.Tensor:
    """The scene's content frame (T-1)//2, (3, S, S) in [-1, 1]."""
    pixels = render(scene, [(scene.frames - 1) // 2])[0]                                     # S S 3
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1


def make_batch(indices, size: int, hard_negatives: int, g: torch.Generator):
    """Frames, captions, visible keys and (B, K, 3, S, S) near-miss frames of train clips."""
    images, captions, keys, negatives = [], [], [], []
    for index in indices:
        scene = sample_scene(seed_for(index, "train"), "train", size=size)
        images.append(frame(scene))
        captions.append(scene.caption)
        keys.append(visible_key(scene))
        if hard_negatives:   # shape near misses first (stage 1's usual mistake), then any others
            shapes = visible_variants(scene, ("shape",))
            others = visible_variants(scene, ("colour", "background", "count"))
            pick = [shapes[j] for j in torch.randperm(len(shapes), generator=g).tolist()][:hard_negatives]
            pick += [others[j] for j in torch.randperm(len(others), generator=g).tolist()][:hard_negatives - len(pick)]
            pick += pick[:1] * (hard_negatives - len(pick))          # fewer variants than K: repeat
            negatives.append(torch.stack([frame(v) for v in pick]))
    return (torch.stack(images), captions, keys,
            torch.stack(negatives) if hard_negatives else None)


def degrade(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random blur (sigma up to 1.2 px), pixel noise (std up to 0.1) and 8 x 8-patch colour
    offsets (std up to 0.06): the artefacts of a small pixel-space generator. (N, 3, H, W)."""
    n, c, h, w = images.shape
    sigma = (torch.rand(n, generator=g) * 1.2).clamp(min=1e-3)
    radius = torch.arange(-3, 4, dtype=images.dtype)
    kernel = torch.exp(-radius[None] ** 2 / (2 * sigma[:, None] ** 2))                  # N 7
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0).view(n * c, 1, 1, 7)
    flat = images.reshape(1, n * c, h, w)                  # a separable blur, one kernel per image
    flat = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode="replicate"), kernel, groups=n * c)
    flat = F.conv2d(F.pad(flat, (0, 0, 3, 3), mode="replicate"), kernel.transpose(2, 3), groups=n * c)
    out = flat.view(n, c, h, w)
    out = out + torch.randn(out.shape, generator=g) * torch.rand(n, 1, 1, 1, generator=g) * 0.1
    patches = torch.randn(n, c, h // 8, w // 8, generator=g) * torch.rand(n, 1, 1, 1, generator=g) * 0.06
    return (out + patches.repeat_interleave(8, 2).repeat_interleave(8, 3)).clamp(-1, 1)


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
    parser.add_argument("--hard-negatives", type=int, default=0,
                        help="near-miss frames per caption (0: in-batch contrast only)")
    parser.add_argument("--augment", action="store_true", help="blur, noise and patch offsets on every frame")
    parser.add_argument("--init", default=None, help="stage-1 folder whose reranker to start from")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.hard_negatives < 0:
        parser.error(f"--hard-negatives must be >= 0, got {args.hard_negatives}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = ReducioStage1Generator.from_pretrained(args.stage1).eval()
    matcher = FrameTextMatcher(gen.config.dit.text_dim, dim=args.dim, width=args.width)
    if args.init:
        source = ReducioStage1Generator.from_pretrained(args.init).reranker
        if source is None:
            raise SystemExit(f"--init {args.init}: that stage-1 folder has no reranker")
        matcher = FrameTextMatcher(gen.config.dit.text_dim, dim=source.frame_head.out_features,
                                   width=source.frame_tower[0].out_channels)
        matcher.load_state_dict(source.float().state_dict())
    optimizer = torch.optim.AdamW(matcher.parameters(), lr=args.lr, weight_decay=0.01)
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
        indices = torch.randint(0, 10_000_000, (args.batch,), generator=g).tolist()
        images, captions, keys, negatives = make_batch(indices, gen.config.image_size, args.hard_negatives, g)
        if args.augment:                                                           # B 3 H W, B K 3 H W
            images = degrade(images, g)
            negatives = None if negatives is None else degrade(negatives.flatten(0, 1), g).view_as(negatives)
        with torch.no_grad():
            tokens, mask = caption_tokens(gen, captions, cache)
        if args.hard_negatives:   # a frame cannot show direction: positives by what it shows
            same = torch.tensor([[a == b for b in keys] for a in keys])
            loss = (matcher.contrastive_loss(images, tokens, mask, same)
                    + matcher.ranking_loss(images, negatives, tokens, mask))
        else:
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
