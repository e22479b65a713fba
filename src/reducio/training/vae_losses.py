"""The release's VAE loss terms (`LPIPSWithDiscriminator`, docs/architecture.md §4.1) as small pure functions.

Video tensors are (B, 3, T, H, W) in [-1, 1]; reconstructions are unbounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from reducio.eval.reconstruction import ssim_frames_differentiable
from reducio.models.vae.config import content_frame_indices


def window_content_frames(video: torch.Tensor, window: int) -> torch.Tensor:
    """For each frame of `video` (B C T H W, T a whole number of `window`-frame windows), the
    content frame of its own window: B C T H W, window k's frames all equal to its frame
    `content_frame_indices(T, window)[k]` (frames 7 and 23 of a 32-frame clip in windows of 16),
    as the VAE encodes and decodes each window around its own content frame."""
    indices = content_frame_indices(video.shape[2], window)
    return video[:, :, indices].repeat_interleave(window, dim=2)


def reconstruction_error(target: torch.Tensor, recon: torch.Tensor, kind: str = "l1",
                         motion_weight: float = 0.0, *, window: int) -> torch.Tensor:
    """Per-element reconstruction error, (B, 3, T, H, W).

    kind "l1" is the release's |x - x_hat|; "mse" is (x - x_hat)^2. With `motion_weight` > 0
    (not in the release) each pixel is weighted by 1 + motion_weight * |x - x_content| (mean over
    RGB), where x_content is the content frame of the pixel's own `window`-frame window
    (`window_content_frames`): pixels that a copy of the content frame gets wrong weigh more, so
    the motion latent has to carry them.
    """
    diff = target - recon
    error = diff.abs() if kind == "l1" else diff.square()
    if motion_weight > 0:
        content = window_content_frames(target, window)  # B 3 T H W
        moving = (target - content).abs().mean(dim=1, keepdim=True)  # B 1 T H W, in [0, 2]
        error = error * (1.0 + motion_weight * moving)
    return error


def ssim_loss(target: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """1 - SSIM, the mean over the B*T frames, scored as `reducio.eval.ssim` scores (not in the release).

    The reconstruction is clamped to [-1, 1] and both videos mapped to [0, 1] first, as the metric
    does, so the loss is exactly 1 - the metric (below 384 px, where the metric does not
    downscale). Clamped pixels get no gradient from this term; the reconstruction loss still
    pulls them in. SSIM weighs errors by the local contrast of the target: on flat backgrounds a
    faint ripple that costs little MSE costs a lot of SSIM.
    """
    frames = rearrange(target, "b c t h w -> (b t) c h w").add(1.0).div(2.0)
    frames_hat = rearrange(recon.clamp(-1.0, 1.0), "b c t h w -> (b t) c h w").add(1.0).div(2.0)
    return 1.0 - ssim_frames_differentiable(frames, frames_hat).mean()


def perceptual_per_frame(lpips: nn.Module, target: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """LPIPS on every one of the B*T frames, shaped (B, 1, T, 1, 1) to broadcast over pixels."""
    b, t = target.shape[0], target.shape[2]
    frames = rearrange(target, "b c t h w -> (b t) c h w")
    frames_hat = rearrange(recon, "b c t h w -> (b t) c h w")
    distance = lpips(frames.contiguous(), frames_hat.contiguous())  # (B*T,) or (B*T, 1, 1, 1)
    return rearrange(distance.reshape(b, t), "b t -> b 1 t 1 1")


def outlier_penalty(recon: torch.Tensor, radius: float = 3.0) -> torch.Tensor:
    """Mean of relu(x_hat - m - radius * s), m and s the spatial mean and (unbiased) std per (b, c, t) plane.

    Only bright outliers above mean + 3 std are penalised (the release's penalty_loss, weight 1).
    """
    mean = recon.mean(dim=(-1, -2), keepdim=True)  # B C T 1 1
    std = recon.std(dim=(-1, -2), keepdim=True)
    return (recon - mean - radius * std).clamp(min=0).mean()


def kl_loss(latent_dist) -> torch.Tensor:
    """Posterior KL: summed over (C, T, H, W) per sample by `kl()`, then the mean over the batch."""
    return latent_dist.kl().mean()


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())


D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}


def adaptive_weight(nll: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor,
                    disc_weight: float = 0.05) -> torch.Tensor:
    """d_w = ||dnll/dW|| / (||dg/dW|| + 1e-4), clamped to [0, 1e4], detached, times disc_weight.

    W is the decoder's last layer (`decoder.conv_out.weight`); it balances the GAN gradient
    against the reconstruction gradient where they meet (VQGAN / LDM recipe). Checked under
    DistributedDataParallel (2 processes): these grads do not disturb DDP's reduction.
    """
    nll_grad = torch.autograd.grad(nll, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    weight = torch.norm(nll_grad) / (torch.norm(g_grad) + 1e-4)
    return torch.clamp(weight, 0.0, 1e4).detach() * disc_weight


def disc_active(step: int, start: int, unit: str, *, discriminator: bool) -> bool:
    """Whether the adversarial terms are on at iteration `step` (0-based).

    The release compares `disc_start` with Lightning's `global_step`, which advances once per
    optimiser step: it is 2*step during the generator's loss and 2*step + 1 during the
    discriminator's (the generator has stepped). unit "iteration" compares our step directly.
    """
    if unit == "iteration":
        return step >= start
    global_step = 2 * step + (1 if discriminator else 0)
    return global_step >= start
