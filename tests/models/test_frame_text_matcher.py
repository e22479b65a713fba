"""FrameTextMatcher: shapes, masking, and contrastive training that learns to match."""

from __future__ import annotations

import math

import torch

from reducio.models.frame_text_matcher import FrameTextMatcher


def test_scores_are_cosines_and_padding_is_ignored():
    torch.manual_seed(0)
    m = FrameTextMatcher(12, dim=16, width=8).eval()
    images, tokens = torch.rand(3, 3, 64, 64) * 2 - 1, torch.randn(3, 5, 12)
    mask = torch.tensor([[1, 1, 1, 0, 0]] * 3, dtype=torch.bool)
    with torch.no_grad():
        s = m.score(images, tokens, mask)
        assert s.shape == (3,) and (s.abs() <= 1 + 1e-6).all()
        changed = tokens.clone()
        changed[:, 3:] = 100.0                       # padding positions do not count
        assert torch.allclose(m.score(images, changed, mask), s)
        assert not torch.allclose(m.score(images, changed, None), s)
        assert torch.allclose(m.score(images[:1], tokens[:1], mask[:1]), s[:1], atol=1e-6)


def test_contrastive_training_learns_which_caption_fits_which_frame():
    """Two kinds of frames (a bright left half / a bright right half) and two captions; after a
    few steps each frame scores higher with its own caption than with the other."""
    torch.manual_seed(0)
    m = FrameTextMatcher(8, dim=16, width=8)
    captions = torch.randn(2, 4, 8)                  # two fixed "captions" of 4 tokens

    def batch(n=16):
        kind = torch.arange(n) % 2
        images = torch.rand(n, 3, 64, 64) * 0.4 - 1
        images[kind == 0, :, :, :32] += 1.5
        images[kind == 1, :, :, 32:] += 1.5
        return images, captions[kind], kind[:, None] == kind[None, :]

    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        images, tokens, same = batch()
        loss = m.contrastive_loss(images, tokens, None, same)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # 8 positives per row: the lowest possible loss is the targets' entropy, ln 8 (ln 16 at chance)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last - math.log(8) < 0.25 * (first - math.log(8))
    images, _, _ = batch(8)
    with torch.no_grad():
        own = m.score(images, captions[torch.arange(8) % 2])
        other = m.score(images, captions[1 - torch.arange(8) % 2])
    assert (own > other).all()


def test_ranking_loss_is_chance_when_the_near_misses_are_the_frame_itself():
    torch.manual_seed(0)
    m = FrameTextMatcher(8, dim=16, width=8)
    images, tokens = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 4, 8)
    negatives = images[:, None].repeat(1, 3, 1, 1, 1)                   # B K 3 H W, K = 3
    assert torch.allclose(m.ranking_loss(images, negatives, tokens, None), torch.tensor(math.log(4)), atol=1e-5)


def test_ranking_training_separates_a_frame_from_its_near_miss():
    """Caption "left" must pick the frame bright on the left over the same frame bright on the
    right (and the other way round): the decision a reranker makes between candidates."""
    torch.manual_seed(0)
    m = FrameTextMatcher(8, dim=16, width=8)
    captions = torch.randn(2, 4, 8)

    def frames(kind):
        images = torch.full((len(kind), 3, 32, 32), -1.0)
        images[kind == 0, :, :, :16] = 1.0
        images[kind == 1, :, :, 16:] = 1.0
        return images

    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    kind = torch.arange(8) % 2
    losses = []
    for _ in range(30):
        loss = m.ranking_loss(frames(kind), frames(1 - kind)[:, None], captions[kind], None)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        assert (m.score(frames(kind), captions[kind]) > m.score(frames(1 - kind), captions[kind])).all()
