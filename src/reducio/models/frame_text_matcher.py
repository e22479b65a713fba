"""A small image-text matcher (CLIP-style: two towers, cosine similarity) for stage-1 reranking.

Stage 1 samples N content frames per prompt; the matcher scores each against the prompt and the
best one is kept, as DALL-E reranked its samples with CLIP (Ramesh et al. 2021). Trained
contrastively on (frame, caption) pairs (`reducio train reranker`); the text side reads
the stage-1 text encoder's token states (mean over the caption's tokens), so no second encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FrameTextMatcher(nn.Module):
    """score(images (B, 3, H, W) in [-1, 1], tokens (B, L, text_dim), mask (B, L)) -> (B,) cosine.

    Frame tower: 4 stride-2 stages of two 3x3 convs (GroupNorm, SiLU; widths width x 1, 2, 4, 8),
    global mean, linear to `dim`. Text tower: masked mean of the token states, 2-layer MLP.
    """

    def __init__(self, text_dim: int, *, dim: int = 384, width: int = 32) -> None:
        super().__init__()
        layers, channels = [], 3
        for w in (width, 2 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(channels, w, 3, stride=2, padding=1), nn.GroupNorm(8, w), nn.SiLU(),
                       nn.Conv2d(w, w, 3, padding=1), nn.GroupNorm(8, w), nn.SiLU()]
            channels = w
        self.frame_tower = nn.Sequential(*layers)
        self.frame_head = nn.Linear(channels, dim)
        self.text_tower = nn.Sequential(nn.Linear(text_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(2.7))        # CLIP's init: scale 1 / 0.07

    def embed_frames(self, images: torch.Tensor) -> torch.Tensor:
        features = self.frame_tower(images).mean((2, 3))                           # B C
        return F.normalize(self.frame_head(features), dim=-1)                      # B D

    def embed_text(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            pooled = tokens.mean(1)
        else:
            weights = mask.to(tokens.dtype)[..., None]                             # B L 1
            pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)
        return F.normalize(self.text_tower(pooled), dim=-1)                        # B D

    def score(self, images: torch.Tensor, tokens: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
        return (self.embed_frames(images) * self.embed_text(tokens, mask)).sum(-1)   # B

    def contrastive_loss(self, images: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor | None,
                         same_caption: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE over a batch; `same_caption` (B, B) bool marks every pair whose
        captions are equal as a positive (captions repeat within a batch of a small world)."""
        logits = self.log_scale.exp().clamp(max=100.0) * self.embed_frames(images) @ self.embed_text(tokens, mask).T
        target = same_caption.to(logits.dtype)
        target = target / target.sum(1, keepdim=True)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target.T / target.T.sum(1, keepdim=True)))

    def ranking_loss(self, images: torch.Tensor, negatives: torch.Tensor, tokens: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy of each caption choosing its own frame among near misses: `images`
        (B, 3, H, W) match their captions, `negatives` (B, K, 3, H, W) are the same scenes with one
        visible thing changed (`reducio.data.synthetic.variants`). This is the decision a reranker
        makes: one prompt, several frames."""
        b, k = negatives.shape[:2]
        frames = self.embed_frames(torch.cat([images[:, None], negatives], 1).flatten(0, 1)).view(b, k + 1, -1)
        logits = self.log_scale.exp().clamp(max=100.0) * (frames @ self.embed_text(tokens, mask)[..., None])[..., 0]
        return F.cross_entropy(logits, torch.zeros(b, dtype=torch.long, device=logits.device))   # B K+1

