"""Training pairs of the stage-1 reranker (`reducio train reranker`): shapes-world content frames
with their captions and, optionally, near misses and degradations.

Near misses are the same scene with one visible thing changed (`variants.visible_variants`):
shape changes first (stage 1's usual mistake), then colour, background or count. Degradations
(blur, pixel noise, 8 x 8-patch colour offsets) make clean renders look like the output of a
small pixel-space generator. Every random choice of item i comes from a generator seeded by
(seed, i), so an item is the same whenever it is drawn: a resumed run sees the same data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from reducio.data.synthetic.render import render
from reducio.data.synthetic.variants import visible_key, visible_variants
from reducio.data.synthetic.world import ShapesScene, sample_scene, seed_for
from reducio.errors import ConfigError
from reducio.models.vae.config import content_frame_index

# Near misses by what changes, the shape first.
FIRST_KINDS = ("shape",)
OTHER_KINDS = ("colour", "background", "count")


def content_frame(scene: ShapesScene) -> torch.Tensor:
    """The scene's content frame (its middle frame, `content_frame_index`): 3 S S in [-1, 1]."""
    pixels = render(scene, [content_frame_index(scene.frames)])[0]                  # S S 3 uint8
    return torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1


def near_misses(scene: ShapesScene, count: int, generator: torch.Generator) -> list[ShapesScene]:
    """`count` variants of `scene` with one visible thing changed: shape changes first, then
    others, in a random order; repeated when the scene has fewer variants than `count`."""
    shapes = visible_variants(scene, FIRST_KINDS)
    others = visible_variants(scene, OTHER_KINDS)
    pick = [shapes[j] for j in torch.randperm(len(shapes), generator=generator).tolist()][:count]
    pick += [others[j] for j in torch.randperm(len(others), generator=generator).tolist()][:count - len(pick)]
    return pick + pick[:1] * (count - len(pick))


def degrade(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random blur (sigma up to 1.2 px), pixel noise (std up to 0.1) and 8 x 8-patch colour
    offsets (std up to 0.06), drawn per image: N 3 H W in [-1, 1] -> N 3 H W in [-1, 1]."""
    n, c, h, w = images.shape
    sigma = (torch.rand(n, generator=generator) * 1.2).clamp(min=1e-3)
    radius = torch.arange(-3, 4, dtype=images.dtype)
    kernel = torch.exp(-radius[None] ** 2 / (2 * sigma[:, None] ** 2))                  # N 7
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0).view(n * c, 1, 1, 7)
    flat = images.reshape(1, n * c, h, w)                  # a separable blur, one kernel per image
    flat = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode="replicate"), kernel, groups=n * c)
    flat = F.conv2d(F.pad(flat, (0, 0, 3, 3), mode="replicate"), kernel.transpose(2, 3), groups=n * c)
    out = flat.view(n, c, h, w)
    out = out + torch.randn(out.shape, generator=generator) * torch.rand(n, 1, 1, 1, generator=generator) * 0.1
    patches = torch.randn(n, c, h // 8, w // 8, generator=generator) * torch.rand(n, 1, 1, 1, generator=generator) * 0.06
    return (out + patches.repeat_interleave(8, 2).repeat_interleave(8, 3)).clamp(-1, 1)


class RerankPairDataset(Dataset):
    """Item i of `split`: {"image": 3 S S, "caption": str, "visible": str (what the frame shows,
    direction words aside: equal for frames a reranker cannot tell apart), "index": int} and,
    with `hard_negatives` K > 0, "negatives": K 3 S S near misses of the same scene."""

    def __init__(self, split: str = "train", *, size: int = 64, length: int = 1_000_000,
                 hard_negatives: int = 0, augment: bool = False, seed: int = 0) -> None:
        if hard_negatives < 0:
            raise ConfigError(f"data.hard_negatives must be >= 0 (0: in-batch contrast only), got {hard_negatives}")
        if size % 8:
            raise ConfigError(f"reranker frames must be a multiple of 8 pixels (the degradation's patches), got {size}")
        seed_for(0, split)  # an unknown split fails here, naming the valid ones
        self.split, self.size, self.length = split, size, length
        self.hard_negatives, self.augment, self.seed = hard_negatives, augment, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for a RerankPairDataset of length {self.length}")
        scene_seed = seed_for(i, self.split)
        scene = sample_scene(scene_seed, self.split, size=self.size)
        state = np.random.SeedSequence([self.seed, scene_seed]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(state))
        item = {"image": content_frame(scene), "caption": scene.caption, "visible": repr(visible_key(scene)),
                "index": i}
        if self.hard_negatives:
            item["negatives"] = torch.stack([content_frame(v) for v in
                                             near_misses(scene, self.hard_negatives, generator)])  # K 3 S S
        if self.augment:
            item["image"] = degrade(item["image"][None], generator)[0]
            if self.hard_negatives:
                item["negatives"] = degrade(item["negatives"], generator)
        return item


__all__ = ["RerankPairDataset", "content_frame", "degrade", "near_misses"]
