"""Aspect-ratio buckets: PixArt-alpha's tables (diffusion/data/datasets/utils.py), which the
release's latent extraction uses as they are (docs/architecture.md §5.2): a clip goes to the bucket whose
height/width ratio is closest to its own, is resized so that it covers the bucket and is
centre-cropped to it. Keys are height / width; values are (height, width).

The 512 and 1024 tables are multiples of 32, as the VAE needs. The 256 table has sizes that are
multiples of 16 only (e.g. 240x256); `closest_bucket(..., multiple=32)` skips those buckets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from reducio.errors import ConfigError, ShapeError

ASPECT_RATIO_1024: dict[str, tuple[int, int]] = {
    "0.25": (512, 2048), "0.26": (512, 1984), "0.27": (512, 1920), "0.28": (512, 1856),
    "0.32": (576, 1792), "0.33": (576, 1728), "0.35": (576, 1664), "0.4": (640, 1600),
    "0.42": (640, 1536), "0.48": (704, 1472), "0.5": (704, 1408), "0.52": (704, 1344),
    "0.57": (768, 1344), "0.6": (768, 1280), "0.68": (832, 1216), "0.72": (832, 1152),
    "0.78": (896, 1152), "0.82": (896, 1088), "0.88": (960, 1088), "0.94": (960, 1024),
    "1.0": (1024, 1024), "1.07": (1024, 960), "1.13": (1088, 960), "1.21": (1088, 896),
    "1.29": (1152, 896), "1.38": (1152, 832), "1.46": (1216, 832), "1.67": (1280, 768),
    "1.75": (1344, 768), "2.0": (1408, 704), "2.09": (1472, 704), "2.4": (1536, 640),
    "2.5": (1600, 640), "2.89": (1664, 576), "3.0": (1728, 576), "3.11": (1792, 576),
    "3.62": (1856, 512), "3.75": (1920, 512), "3.88": (1984, 512), "4.0": (2048, 512),
}

ASPECT_RATIO_512: dict[str, tuple[int, int]] = {
    "0.25": (256, 1024), "0.26": (256, 992), "0.27": (256, 960), "0.28": (256, 928),
    "0.32": (288, 896), "0.33": (288, 864), "0.35": (288, 832), "0.4": (320, 800),
    "0.42": (320, 768), "0.48": (352, 736), "0.5": (352, 704), "0.52": (352, 672),
    "0.57": (384, 672), "0.6": (384, 640), "0.68": (416, 608), "0.72": (416, 576),
    "0.78": (448, 576), "0.82": (448, 544), "0.88": (480, 544), "0.94": (480, 512),
    "1.0": (512, 512), "1.07": (512, 480), "1.13": (544, 480), "1.21": (544, 448),
    "1.29": (576, 448), "1.38": (576, 416), "1.46": (608, 416), "1.67": (640, 384),
    "1.75": (672, 384), "2.0": (704, 352), "2.09": (736, 352), "2.4": (768, 320),
    "2.5": (800, 320), "2.89": (832, 288), "3.0": (864, 288), "3.11": (896, 288),
    "3.62": (928, 256), "3.75": (960, 256), "3.88": (992, 256), "4.0": (1024, 256),
}

ASPECT_RATIO_256: dict[str, tuple[int, int]] = {
    "0.25": (128, 512), "0.26": (128, 496), "0.27": (128, 480), "0.28": (128, 464),
    "0.32": (144, 448), "0.33": (144, 432), "0.35": (144, 416), "0.4": (160, 400),
    "0.42": (160, 384), "0.48": (176, 368), "0.5": (176, 352), "0.52": (176, 336),
    "0.57": (192, 336), "0.6": (192, 320), "0.68": (208, 304), "0.72": (208, 288),
    "0.78": (224, 288), "0.82": (224, 272), "0.88": (240, 272), "0.94": (240, 256),
    "1.0": (256, 256), "1.07": (256, 240), "1.13": (272, 240), "1.21": (272, 224),
    "1.29": (288, 224), "1.38": (288, 208), "1.46": (304, 208), "1.67": (320, 192),
    "1.75": (336, 192), "2.0": (352, 176), "2.09": (368, 176), "2.4": (384, 160),
    "2.5": (400, 160), "2.89": (416, 144), "3.0": (432, 144), "3.11": (448, 144),
    "3.62": (464, 128), "3.75": (480, 128), "3.88": (496, 128), "4.0": (512, 128),
}

ASPECT_RATIO_TABLES = {256: ASPECT_RATIO_256, 512: ASPECT_RATIO_512, 1024: ASPECT_RATIO_1024}


def bucket_table(table: int | str | dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """A table by base resolution (256, 512, 1024) or the table itself."""
    if isinstance(table, dict):
        return table
    try:
        return ASPECT_RATIO_TABLES[int(table)]
    except (KeyError, ValueError):
        raise ConfigError(f"unknown aspect-ratio table {table!r}; valid: 256, 512, 1024") from None


def closest_bucket(height: int, width: int, table: int | str | dict = 256, multiple: int = 32) -> tuple[int, int]:
    """(height, width) of the bucket whose ratio key is closest to height / width.

    Ties go to the first key in table order, as PixArt's `get_closest_ratio` (min over keys).
    Buckets whose sides are not multiples of `multiple` are skipped (multiple=1 keeps all).
    """
    if height <= 0 or width <= 0:
        raise ShapeError(f"closest_bucket needs a positive frame size, got {height}x{width}")
    ratios = {key: hw for key, hw in bucket_table(table).items() if hw[0] % multiple == 0 and hw[1] % multiple == 0}
    if not ratios:
        raise ShapeError(f"no bucket of this table has sides that are multiples of {multiple}")
    aspect = height / width
    key = min(ratios, key=lambda r: abs(float(r) - aspect))
    return ratios[key]


def parse_aspect(text: str) -> float:
    """"W:H" (the usual way to write it: 16:9 is landscape), "W/H" or a number W/H -> height / width."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:[:/]\s*(\d+(?:\.\d+)?))?\s*", str(text))
    if match is None or float(match.group(1)) <= 0 or (match.group(2) is not None and float(match.group(2)) <= 0):
        raise ConfigError(f"--aspect must be W:H (e.g. 16:9, 1:1, 9:16) or a positive number W/H, got {text!r}")
    width, height = float(match.group(1)), float(match.group(2) or 1.0)
    return height / width


def bucket_for_aspect(size: int, aspect: float, multiple: int = 32) -> tuple[int, int]:
    """(height, width) for a base size S and a height/width ratio.

    S = 256, 512, 1024: PixArt-alpha's bucket closest to the ratio (the tables above; what the
    release's extraction and PixArt's 1024-MS model use). Other S: about S*S pixels, each side
    rounded to `multiple` (at least one multiple).
    """
    if size <= 0 or aspect <= 0:
        raise ShapeError(f"bucket_for_aspect needs a positive size and ratio, got {size}, {aspect}")
    if size in ASPECT_RATIO_TABLES:
        return closest_bucket(round(1000 * aspect), 1000, size, multiple)
    height = max(round(size * aspect ** 0.5 / multiple), 1) * multiple
    width = max(round(size / aspect ** 0.5 / multiple), 1) * multiple
    return height, width


class BucketBatchSampler(Sampler[list[int]]):
    """Batches whose items share a bucket key (e.g. (height, width)); items keyed None are left out.

    Shuffling is seeded by (seed, epoch): call `set_epoch` each epoch for a new order. Batches
    of different buckets are interleaved at random; `drop_last` drops each bucket's remainder.
    """

    def __init__(self, keys: Sequence[Hashable | None], batch_size: int, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.groups: dict[Hashable, list[int]] = defaultdict(list)
        for index, key in enumerate(keys):
            if key is not None:
                self.groups[key].append(index)
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches: list[list[int]] = []
        for key in sorted(self.groups, key=repr):
            indices = list(self.groups[key])
            if self.shuffle:
                indices = [indices[i] for i in rng.permutation(len(indices))]
            for lo in range(0, len(indices), self.batch_size):
                batch = indices[lo : lo + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        full = sum(len(v) // self.batch_size for v in self.groups.values())
        partial = 0 if self.drop_last else sum(1 for v in self.groups.values() if len(v) % self.batch_size)
        return full + partial
