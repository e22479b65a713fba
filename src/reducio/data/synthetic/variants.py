"""Near-miss scenes: the same geometry with one visible attribute changed.

A matcher that ranks stage-1 frames must tell a square from a circle drawn at the same place in the
same colour; random in-batch pairs rarely differ in one attribute only. `visible_variants(scene)`
gives such hard negatives: every scene that differs from `scene` in exactly one thing a single
frame shows (one object's shape, one object's colour, the background, or one object fewer),
keeping the geometry, and never a held-out combination (the held-out rule applies to training
data of every kind). Directions are not visible in one frame and are left as they are.
"""

from __future__ import annotations

from dataclasses import replace

from reducio.data.synthetic.vocab import BACKGROUNDS, COLOURS, SHAPES, scene_is_heldout
from reducio.data.synthetic.world import ShapesScene


def visible_key(scene: ShapesScene) -> tuple:
    """What one frame of the scene shows: background and the (colour, shape) of each object."""
    return scene.background, tuple(sorted((o.colour, o.shape) for o in scene.objects))


KINDS = ("shape", "colour", "background", "count")


def visible_variants(scene: ShapesScene, kinds: tuple[str, ...] = KINDS) -> list[ShapesScene]:
    """Scenes one visible change away from `scene` (same geometry), none held out, in the order
    of `kinds`: another shape for one object, another colour for one object, another
    background, one object fewer."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown variant kind(s) {unknown}; valid: {list(KINDS)}")
    by_kind: dict[str, list[ShapesScene]] = {kind: [] for kind in KINDS}
    for k, obj in enumerate(scene.objects):
        others = {o.colour for j, o in enumerate(scene.objects) if j != k}
        by_kind["shape"] += [_with_object(scene, k, replace(obj, shape=s)) for s in SHAPES if s != obj.shape]
        by_kind["colour"] += [_with_object(scene, k, replace(obj, colour=c))
                              for c in COLOURS if c != obj.colour and c not in others]
        if len(scene.objects) > 1:
            by_kind["count"].append(replace(scene, objects=scene.objects[:k] + scene.objects[k + 1:]))
    by_kind["background"] = [replace(scene, background=b) for b in BACKGROUNDS if b != scene.background]
    return [v for kind in kinds for v in by_kind[kind] if not scene_is_heldout(v.spec)]


def _with_object(scene: ShapesScene, k: int, obj) -> ShapesScene:
    return replace(scene, objects=scene.objects[:k] + (obj,) + scene.objects[k + 1:])
