"""Near-miss scenes for the stage-1 reranker: one visible change, same geometry, never held out."""

from __future__ import annotations

import pytest

from reducio.data.synthetic.variants import KINDS, visible_key, visible_variants
from reducio.data.synthetic.vocab import scene_is_heldout
from reducio.data.synthetic.world import sample_scene, seed_for


def _differences(a, b) -> int:
    """How many visible things differ between two scenes with the same geometry."""
    count = int(a.background != b.background) + abs(len(a.objects) - len(b.objects))
    if len(a.objects) == len(b.objects):
        count += sum((x.colour != y.colour) + (x.shape != y.shape) for x, y in zip(a.objects, b.objects))
    return count


@pytest.mark.parametrize("index", range(40))
def test_each_variant_changes_one_visible_thing_and_keeps_the_geometry(index):
    scene = sample_scene(seed_for(index, "train"), "train")
    variants = visible_variants(scene)
    assert variants
    for v in variants:
        assert _differences(scene, v) == 1
        assert visible_key(v) != visible_key(scene)
        assert not scene_is_heldout(v.spec)
        assert len({o.colour for o in v.objects}) == len(v.objects)      # colours stay distinct
        kept = [o for o in v.objects if o in scene.objects or any(
            (o.start_x, o.start_y, o.size, o.direction) == (p.start_x, p.start_y, p.size, p.direction)
            for p in scene.objects)]
        assert len(kept) == len(v.objects)                                 # same places, sizes, motion


def test_kinds_select_and_order_the_variants():
    scene = next(s for s in (sample_scene(seed_for(i, "train"), "train") for i in range(100))
                 if len(s.objects) == 1 and s.background != "white" and s.objects[0].colour != "purple")
    shapes = visible_variants(scene, ("shape",))
    assert sorted(o.objects[0].shape for o in shapes) == sorted({"circle", "square", "triangle"} - {scene.objects[0].shape})
    backgrounds = visible_variants(scene, ("background",))
    assert {v.background for v in backgrounds} == {"black", "white", "gray"} - {scene.background}
    assert visible_variants(scene, ("count",)) == []                    # one object: nothing to drop
    assert visible_variants(scene, ("shape", "background")) == shapes + backgrounds
    assert len(visible_variants(scene)) == len(visible_variants(scene, KINDS))
    with pytest.raises(ValueError, match="unknown variant kind"):
        visible_variants(scene, ("size",))


def test_held_out_variants_are_left_out():
    """A green square on gray: its white-background variant would be a held-out square on white."""
    scene = next(s for s in (sample_scene(seed_for(i, "train"), "train") for i in range(500))
                 if len(s.objects) == 1 and s.objects[0].shape == "square" and s.background != "white")
    assert "white" not in {v.background for v in visible_variants(scene, ("background",))}


def test_visible_key_ignores_direction_and_object_order():
    scene = next(s for s in (sample_scene(seed_for(i, "train"), "train") for i in range(100)) if len(s.objects) == 2)
    from dataclasses import replace

    turned = replace(scene, objects=tuple(replace(o, direction="left" if o.direction != "left" else "up")
                                          for o in reversed(scene.objects)))
    assert visible_key(turned) == visible_key(scene)
