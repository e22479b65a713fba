"""`reducio eval dit-conditions`: the caption variants and the x0-error table of a DiT."""

from __future__ import annotations

import torch

from reducio.data.synthetic.world import make_clip
from reducio.eval.dit_conditions import VARIANTS, swap_direction, x0_error_by_condition
from reducio.loading.sources import assets_root
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE
from reducio.pipelines.components import load_text_encoder


def test_swap_direction_reverses_the_first_motion_word_only():
    assert swap_direction("a red circle moving left on a black background") == \
        "a red circle moving right on a black background"
    assert swap_direction("a red circle moving up and a blue square moving up on a white background") == \
        "a red circle moving down and a blue square moving up on a white background"
    assert swap_direction("a still picture") == "a still picture"


def test_the_builtin_dit_predicts_better_with_the_right_caption_at_high_noise():
    """The built-in DiT follows its prompt's motion (docs/dit-design.md): at the highest noise level
    the swapped direction costs it clearly more than the right caption."""
    torch.manual_seed(0)
    vae = ReducioVAE.from_pretrained("tiny")
    clips = [make_clip(i, "test") for i in range(4)]
    items = []
    with torch.no_grad():
        for clip in clips:
            video = torch.from_numpy(clip.video).permute(3, 0, 1, 2).float()[None] / 127.5 - 1   # 1 3 T H W
            latent = vae.normalize_latent(vae.encode(video).latent_dist.mode())[0]
            frame = video[0, :, vae.content_frame_index(video.shape[2])]                         # 3 H W
            items.append({"latent": latent, "content_frame": frame, "caption": clip.caption})
    dit = ReducioDiT.from_pretrained(assets_root() / "pipeline-tiny" / "transformer").eval()
    errors = x0_error_by_condition(dit, items, load_text_encoder("minilm"), levels=(100, 999))
    assert list(errors) == [100, 999] and all(list(row) == list(VARIANTS) for row in errors.values())
    assert errors[999]["direction swapped"] > 1.5 * errors[999]["right caption"]
