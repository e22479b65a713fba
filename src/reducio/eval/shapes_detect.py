"""Seeing a shapes-world clip: background, and per palette colour one tracked object.

Pipeline (all batched torch on the CPU):
1. every pixel goes to its nearest vocabulary colour (6 object colours + 3 backgrounds) when it
   lies within `colour_threshold` (RGB distance, 0..255) of it; anti-aliased edges, blends of two
   objects and a generator's colour drift beyond the threshold stay unlabelled;
2. the background is the nearest named background to the per-channel median of all pixels
   (objects cover under a fifth of the frame);
3. per object colour and frame, the largest 8-connected component of that colour's pixels is the
   object (stray pixels and thin blend seams are dropped);
4. a colour is an object when its component covers at least `min_area` of the frame in at least
   `min_frames` of the frames;
5. shape, from the frames where the object does not touch another one and is nearly as large as
   it ever is: per-pixel coverage (projection on the line from the background to the object's
   measured colour) gives a fill ratio area / (sum of column maxima x sum of row maxima) (square 1,
   circle pi/4, triangle 1/2) that blur, noise and colour drift barely move, and the centroid's
   offset below the middle of the shape (1/6 of its height for the upward triangle, else 0). An
   object touching another in every frame is fitted with templates of the three shapes instead,
   ignoring the pixels the other object may hide;
6. direction from the centroid track: Theil-Sen slopes of x(t), y(t) over the nearly-whole frames;
   the axis with the larger slope and its sign; slower than `min_speed` of the frame side per frame
   counts as static.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS
from reducio.errors import ConfigError

COLOUR_NAMES = tuple(COLOURS)
BACKGROUND_NAMES = tuple(BACKGROUNDS)
PALETTE = torch.tensor([*COLOURS.values(), *BACKGROUNDS.values()], dtype=torch.float32)  # 9 3


@dataclass(frozen=True, kw_only=True)
class ShapesEvaluatorConfig:
    """Thresholds of the shapes-world evaluator (pixel values 0..255, sizes as fractions of S)."""

    colour_threshold: float = 60.0  # half the closest palette pair (orange-yellow, 81) plus margin
    background_threshold: float = 100.0  # median colour farther than this from all backgrounds: unknown
    min_area: float = 0.006  # of H*W; the smallest object (triangle, 20 % side) covers 0.02
    min_frames: float = 0.25  # of T; a colour seen in fewer frames is not an object
    full_view: float = 0.85  # frames with area >= full_view * max area are unoccluded views
    min_speed: float = 0.005  # of S per frame; the world's slowest object moves 0.015
    square_fill: float = 0.90  # fill ratio at or above which a non-triangle is a square
    triangle_fill: float = 0.70  # fill ratio below which a shape is a triangle
    triangle_offset: float = 0.045  # centroid offset (heights) above which a shape is a triangle

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShapesEvaluatorConfig":
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(f"unknown ShapesEvaluatorConfig key(s) {unknown}; valid keys: {valid}")
        return cls(**{k: float(v) for k, v in data.items()})

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> "ShapesEvaluatorConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read ShapesEvaluatorConfig JSON {path}: {error}") from error
        return cls.from_dict(data)


@dataclass(frozen=True)
class DetectedObject:
    """One object seen in a clip. Velocity in fractions of the frame side per frame (x right, y down)."""

    colour: str
    shape: str | None
    direction: str | None
    area: float  # median fraction of the frame covered, over the frames it is seen in
    fill: float  # median fill ratio of the bounding box over full views
    offset: float  # median centroid offset below the box centre, in box heights
    velocity: tuple[float, float]
    frames_seen: int
    occluded: bool = False  # touches another object in every frame: shape read from partial views

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------- pixel classification


def classify_pixels(pixels: torch.Tensor, threshold: float) -> torch.Tensor:
    """pixels `T H W 3` (0..255) -> palette index `T H W` (0..5 colours, 6..8 backgrounds, -1 none)."""
    flat = pixels.reshape(-1, 3)
    distance = torch.cdist(flat, PALETTE)  # (T H W) 9
    best, index = distance.min(dim=1)
    index = torch.where(best < threshold, index, torch.full_like(index, -1))
    return index.view(pixels.shape[:-1])


def detect_background(pixels: torch.Tensor, threshold: float) -> tuple[str | None, tuple[float, ...]]:
    """Nearest named background to the median colour of all pixels, or None when too far."""
    median = pixels.reshape(-1, 3).median(dim=0).values  # 3
    distance = (PALETTE[len(COLOUR_NAMES) :] - median).norm(dim=1)  # 3
    best = int(distance.argmin())
    name = BACKGROUND_NAMES[best] if float(distance[best]) < threshold else None
    return name, tuple(float(v) for v in median)


# ---------------------------------------------------------------------- connected components


def largest_components(masks: torch.Tensor) -> torch.Tensor:
    """Per plane, the largest 8-connected component: masks `N H W` bool -> `N H W` bool.

    Every pixel starts with its own index as label; labels spread by 3 x 3 max-pooling and jump
    along the labels they point at (pointer jumping) until stable, so each component ends up
    carrying its largest pixel index after O(log diameter) rounds.
    """
    out = torch.zeros_like(masks)
    active = masks.flatten(1).any(dim=1).nonzero().flatten()
    if active.numel() == 0:
        return out
    # Work inside the bounding box of all active planes (an object's path covers a band).
    rows = masks.any(dim=(0, 2)).nonzero().flatten()
    cols = masks.any(dim=(0, 1)).nonzero().flatten()
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    mask = masks[active, r0:r1, c0:c1].float()  # n' h w
    h, w = mask.shape[1:]
    labels = torch.arange(1, h * w + 1, dtype=torch.float32).view(1, h, w) * mask
    for _ in range(h * w):
        spread = F.max_pool2d(labels.unsqueeze(1), 3, stride=1, padding=1).squeeze(1) * mask
        # The pixel a label names lies in the same component; its own label is at least as large.
        flat = spread.flatten(1)
        jumped = flat.gather(1, (flat.long() - 1).clamp(min=0)).view_as(spread) * mask
        spread = torch.maximum(spread, jumped)
        if torch.equal(spread, labels):
            break
        labels = spread
    planes = torch.arange(len(active)).view(-1, 1, 1) * (h * w + 1)
    counts = torch.bincount((labels.long() + planes).flatten(), minlength=len(active) * (h * w + 1))
    counts = counts.view(len(active), h * w + 1)
    counts[:, 0] = 0  # background label
    best = counts.argmax(dim=1).view(-1, 1, 1).float()
    crop = out[:, r0:r1, c0:c1]
    crop[active] = (labels == best) & mask.bool()
    return out


def mask_features(masks: torch.Tensor) -> dict[str, torch.Tensor]:
    """Area (pixels) and centroid (x, y) of masks `N H W` -> dict of `N` tensors."""
    n, h, w = masks.shape
    m = masks.float()
    area = m.sum(dim=(1, 2))
    safe = area.clamp(min=1)
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w)
    return {"area": area, "cx": (m * xs).sum(dim=(1, 2)) / safe, "cy": (m * ys).sum(dim=(1, 2)) / safe}


# ---------------------------------------------------------------------------- per object


def theil_sen_slope(t: torch.Tensor, v: torch.Tensor) -> float:
    """Median of pairwise slopes: a line fit that ignores a few bad (occluded) frames."""
    if t.numel() < 2:
        return 0.0
    dt = t.view(-1, 1) - t.view(1, -1)
    dv = v.view(-1, 1) - v.view(1, -1)
    upper = torch.triu(torch.ones_like(dt, dtype=torch.bool), diagonal=1)
    return float((dv[upper] / dt[upper]).median())


def classify_shape(fill: float, offset: float, config: ShapesEvaluatorConfig) -> str:
    # Measured on rendered clips at 32-128 px, clean and blurred (sigma 1.6 % of S) + noise 8 +
    # colour drift: squares fill 0.94-1.0, circles 0.78-0.86 with |offset| <= 0.015, triangles
    # offset >= 0.07 (fill 0.54-0.86: at 32 px the apex is a pixel or two).
    if fill < config.triangle_fill or offset > config.triangle_offset:
        return "triangle"
    return "square" if fill >= config.square_fill else "circle"


def classify_direction(vx: float, vy: float, min_speed: float) -> str | None:
    if max(abs(vx), abs(vy)) < min_speed:
        return None
    if abs(vx) >= abs(vy):
        return "right" if vx > 0 else "left"
    return "down" if vy > 0 else "up"


# The eight directions by angle, counter-clockwise from +x with y pointing up (image y negated).
_EIGHT_BY_SECTOR = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")


def classify_direction_eight(vx: float, vy: float, min_speed: float) -> str | None:
    """Eight-way reading for the opt-in diagonal extension (vocab.MOTION_SETS["eight"]).

    Each direction owns the 45-degree sector centred on it, so a diagonal needs the slower axis at
    0.41-2.41 times the faster one. Version 1 clips are judged by `classify_direction`, unchanged.
    """
    if max(abs(vx), abs(vy)) < min_speed:
        return None
    angle = math.degrees(math.atan2(-vy, vx)) % 360.0
    return _EIGHT_BY_SECTOR[int(((angle + 22.5) % 360.0) // 45.0)]


def _template_masks(
    shape: str, xs: torch.Tensor, ys: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, half: torch.Tensor
) -> torch.Tensor:
    """Inside-tests of the world's shapes (render.py's geometry) for every candidate centre/size.

    xs `X`, ys `Y` sample coordinates; cx `Cx`, cy `Cy`, half `S` -> bool `S Cy Cx Y X`.
    """
    dx = xs.view(1, 1, 1, 1, -1) - cx.view(1, 1, -1, 1, 1)
    dy = ys.view(1, 1, 1, -1, 1) - cy.view(1, -1, 1, 1, 1)
    r = half.view(-1, 1, 1, 1, 1)
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return (dx.abs() <= r) & (dy.abs() <= r)
    # Upward triangle: apex at (0, -half), base on y = +half, half-width (dy + half) / 2.
    return (dy <= r) & (dx.abs() <= (dy + r) / 2)


def fit_shape(visible: torch.Tensor, hidden: torch.Tensor) -> tuple[str, float]:
    """Best shape for a partly hidden object by template matching; visible, hidden: `H W` bool.

    Every world shape is tried over a grid of centres and sizes; the score is the IoU with the
    visible pixels counted only outside `hidden` (what the other object may cover is unknown).
    Returns (shape, IoU).
    """
    ys_i, xs_i = visible.nonzero(as_tuple=True)
    x0, x1 = float(xs_i.min()), float(xs_i.max()) + 1
    y0, y1 = float(ys_i.min()), float(ys_i.max()) + 1
    extent = max(x1 - x0, y1 - y0)
    step = extent / 16  # sample spacing: the cost does not grow with the frame size
    xs = torch.arange(x0 - 0.8 * extent, x1 + 0.8 * extent, step)
    ys = torch.arange(y0 - 0.8 * extent, y1 + 0.8 * extent, step)
    h, w = visible.shape
    inside = ((xs >= 0) & (xs < w)).view(1, -1) & ((ys >= 0) & (ys < h)).view(-1, 1)  # Y X
    col = xs.floor().long().clamp(0, w - 1)
    row = ys.floor().long().clamp(0, h - 1)
    seen = visible[row][:, col] & inside
    care = ~hidden[row][:, col] | ~inside
    half = torch.linspace(0.9, 1.6, 8) * extent / 2
    cx = torch.arange(x0 - 0.3 * extent, x1 + 0.3 * extent, extent / 8)
    cy = torch.arange(y0 - 0.3 * extent, y1 + 0.3 * extent, extent / 8)
    best_shape, best_iou = "circle", -1.0
    for shape in ("circle", "square", "triangle"):
        template = _template_masks(shape, xs, ys, cx, cy, half) & care  # S Cy Cx Y X
        inter = (template & seen).sum(dim=(-2, -1))
        union = (template | seen).sum(dim=(-2, -1))
        iou = float((inter / union.clamp(min=1)).max())
        if iou > best_iou:
            best_shape, best_iou = shape, iou
    return best_shape, best_iou


def edge_coverage(
    pixels: torch.Tensor, colour: torch.Tensor, background: torch.Tensor, near: torch.Tensor, threshold: float
) -> torch.Tensor:
    """How much of each pixel an object covers: pixels `T H W 3`, near `T H W` bool -> `T H W` in [0, 1].

    An edge pixel is background + c (colour - background), so c is its projection on that line
    (0 outside `near` and for pixels far off the line: seams where two objects blend). A 3 x 3
    mean then averages out pixel noise (a blur, which the shape features below tolerate), and
    c < 0.15 is dropped so background noise does not add up over the ring around the object.
    """
    axis = colour - background  # 3
    offset = pixels - background  # T H W 3
    c = (offset @ axis) / axis.dot(axis).clamp(min=1)
    off_line = (offset - c.unsqueeze(-1) * axis).norm(dim=-1)
    c = torch.where(near & (off_line < threshold), c, torch.zeros_like(c))
    c = F.avg_pool2d(c.unsqueeze(1), 3, 1, 1, count_include_pad=False).squeeze(1)
    return torch.where(c >= 0.15, c.clamp(max=1), torch.zeros_like(c))


def soft_shape_features(coverage: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fill ratio and centroid offset of coverage maps `N H W` -> dict of `N` tensors.

    Area is the sum of coverage; width (height) is the sum over columns (rows) of the largest
    coverage in them. A blur preserves these sums to first order, so a blurred square still fills
    its box (1), a disk pi/4 and an upward triangle 1/2. Offset: the coverage centroid below the
    centroid of the row profile, in heights (0 for symmetric shapes, 1/6 for the triangle).
    """
    n, h, w = coverage.shape
    area = coverage.sum(dim=(1, 2)).clamp(min=1e-6)
    rows = coverage.amax(dim=2)  # N H
    cols = coverage.amax(dim=1)  # N W
    height = rows.sum(dim=1).clamp(min=1e-6)
    width = cols.sum(dim=1).clamp(min=1e-6)
    ys = torch.arange(h, dtype=coverage.dtype)
    centre = (rows * ys).sum(dim=1) / height
    cy = (coverage.sum(dim=2) * ys).sum(dim=1) / area
    return {"fill": area / (width * height), "offset": (cy - centre) / height}


def grow_masks(masks: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate masks `T H W` by a square of radius `pixels`."""
    size = 2 * pixels + 1
    return F.max_pool2d(masks.float().unsqueeze(1), size, 1, pixels).squeeze(1) > 0


def _touching(components: torch.Tensor, reach: int = 2) -> torch.Tensor:
    """components `K T H W` of the detected objects -> `K T` bool: within `reach` px of another."""
    if components.shape[0] < 2:
        return torch.zeros(components.shape[:2], dtype=torch.bool)
    grown = F.max_pool2d(components.float().flatten(0, 1).unsqueeze(1), 2 * reach + 1, 1, reach)
    grown = grown.view(components.shape) > 0
    others = components.sum(dim=0, keepdim=True) - components.int()
    return (grown & (others > 0)).flatten(2).any(dim=2)


def detect_objects(
    pixels: torch.Tensor, labels: torch.Tensor, background: torch.Tensor, config: ShapesEvaluatorConfig
) -> list[DetectedObject]:
    """The objects of a clip, largest first.

    Args:
        pixels: `T H W 3` in 0..255. labels: `T H W` from classify_pixels.
        background: the measured background colour `3` (its median).
    """
    frames, h, w = labels.shape
    side = min(h, w)
    masks = torch.stack([labels == k for k in range(len(COLOUR_NAMES))])  # K T H W
    components = torch.stack([largest_components(m) for m in masks])  # K T H W
    features = mask_features(components.flatten(0, 1))
    features = {k: v.view(len(COLOUR_NAMES), frames) for k, v in features.items()}  # each K T
    seen = features["area"] >= config.min_area * h * w  # K T
    present = seen.sum(dim=1) >= max(1, config.min_frames * frames)  # K
    # Frames where an object touches another may show it partly hidden (the second object is
    # drawn on top); its shape is read from the frames where it stands alone when there are any.
    alone = seen.clone()
    alone[present] &= ~_touching(components[present])
    everyone = components[present].sum(dim=0)  # T H W
    times = torch.arange(frames, dtype=torch.float32)
    objects = []
    for k, colour in enumerate(COLOUR_NAMES):
        if not present[k]:
            continue
        area = features["area"][k]
        others = (everyone - components[k].int()) > 0  # T H W
        # Shape is read from the coverage of the object's pixels, which a blur or the palette
        # threshold barely changes (a blurred square keeps filling its box).
        near = grow_masks(components[k], max(2, round(0.03 * side))) & ~others
        # The object's own colour (a generator drifts from the palette): interior coverage is 1.
        measured = pixels[components[k]].median(dim=0).values  # 3
        coverage = edge_coverage(pixels, measured, background, near, config.colour_threshold)
        shape_features = soft_shape_features(coverage)
        pool = alone[k] if bool(alone[k].any()) else seen[k]
        full = pool & (area >= config.full_view * area[pool].max())
        fill = float(shape_features["fill"][full].median())
        offset = float(shape_features["offset"][full].median())
        shape = classify_shape(fill, offset, config)
        occluded = not bool(alone[k].any())
        if occluded:
            # Touching another object in every frame: fit the shapes to its three best views,
            # ignoring what lies under the other objects (grown by 2 px for blended seams).
            hidden = grow_masks(others, 2)
            votes: dict[str, float] = {}
            for t in area.argsort(descending=True)[:3].tolist():
                if seen[k, t]:
                    fitted, iou = fit_shape((coverage[t] >= 0.5) | components[k, t], hidden[t])
                    votes[fitted] = votes.get(fitted, 0.0) + iou
            shape = max(votes, key=votes.get)
        # Motion from the frames where the object is nearly whole (occlusion drags the centroid);
        # when those span less than half the clip, from every frame it is seen in (Theil-Sen
        # discounts the occluded ones).
        track = seen[k] & (area >= config.full_view * area[seen[k]].max())
        span = times[track]
        if span.numel() < 3 or float(span.max() - span.min()) < (frames - 1) / 2:
            track = seen[k]
        vx = theil_sen_slope(times[track], features["cx"][k][track]) / side
        vy = theil_sen_slope(times[track], features["cy"][k][track]) / side
        objects.append(
            DetectedObject(
                colour=colour,
                shape=shape,
                direction=classify_direction(vx, vy, config.min_speed),
                area=float(area[seen[k]].median()) / (h * w),
                fill=fill,
                offset=offset,
                velocity=(vx, vy),
                frames_seen=int(seen[k].sum()),
                occluded=occluded,
            )
        )
    return sorted(objects, key=lambda o: -o.area)
