"""Convolutional building blocks shared by the encoders and the decoder.

Names of sub-modules follow the release (LDM/taming naming) so that its checkpoints load with
`strict=True` and no renaming: `norm1, conv1, norm2, conv2, nin_shortcut`, `downsample.conv`,
`upsample.conv`.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from einops import rearrange

from reducio.models.vae.config import GROUPNORM_GROUPS


# Above this many elements CUDA kernels that index with 32 bits fail: upsample_nearest3d stopped an
# untiled 16 x 1024^2 decode with "invalid argument" (benchmarks/results/2026-11-26-h200/vae-1024px-failed.log);
# a 128-channel 16 x 1024^2 activation is exactly 2^31 elements.
MAX_KERNEL_ELEMENTS = 2**31 - 1


def normalize(channels: int) -> nn.GroupNorm:
    """The release's Normalize(): GroupNorm(32 groups, eps 1e-6, affine)."""
    return nn.GroupNorm(GROUPNORM_GROUPS, channels, eps=1e-6, affine=True)


def space_to_depth(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Pixel-unshuffle (B, C, [T,] H, W) -> (B, C p p, [T,] H/p, W/p); identity for patch 1.

    Channel order c, then row offset, then column offset (= torch.pixel_unshuffle's)."""
    if patch == 1:
        return x
    if x.ndim == 4:
        return rearrange(x, "b c (h p) (w q) -> b (c p q) h w", p=patch, q=patch)    # B Cpp H/p W/p
    return rearrange(x, "b c t (h p) (w q) -> b (c p q) t h w", p=patch, q=patch)  # B Cpp T H/p W/p


def depth_to_space(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of `space_to_depth` for (B, C p p, T, H, W) -> (B, C, T, H p, W p)."""
    if patch == 1:
        return x
    return rearrange(x, "b (c p q) t h w -> b c t (h p) (w q)", p=patch, q=patch)  # B C T Hp Wp


class Conv3d(nn.Conv3d):
    """nn.Conv3d that sends batch-1 float32 CPU inputs to oneDNN.

    PyTorch picks its native `slow_conv3d` for batch-1 CPU inputs with N*C*T*H <= 20480 (a
    heuristic in its backend selection); on the machines we measured that path is 10-15x slower
    than oneDNN for the 3x3x3 convs of small Reducio models (0.60 s vs 0.04-0.07 s for a
    32-channel 8x64x64 conv). Same maths, same parameters and state-dict keys; autograd works.
    Under torch.compile the plain path is traced (inductor cannot trace mkldnn_convolution).
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,
                      bias: torch.Tensor | None) -> torch.Tensor:
        if input.is_cuda and _too_large_for_kernels(self, input):
            return conv3d_in_time_chunks(self, input, weight, bias, MAX_KERNEL_ELEMENTS)
        if (input.device.type == "cpu" and input.dtype == torch.float32 and input.shape[0] == 1
                and not torch.compiler.is_compiling()  # inductor picks its own CPU kernels
                and self.padding_mode == "zeros" and not isinstance(self.padding, str)
                and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled):
            return torch.mkldnn_convolution(input, weight, bias, self.padding, self.stride,
                                            self.dilation, self.groups)
        return super()._conv_forward(input, weight, bias)


def _output_frames(conv: nn.Conv3d, frames: int) -> int:
    k, s, p, d = conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]
    return (frames + 2 * p - d * (k - 1) - 1) // s + 1


def _too_large_for_kernels(conv: nn.Conv3d, x: torch.Tensor) -> bool:
    """True when the input or the output of this conv passes 2^31 - 1 elements (batch 1 cannot be
    split by PyTorch's own 32-bit-indexing fallback, which splits the batch)."""
    if isinstance(conv.padding, str) or x.ndim != 5:
        return False
    out = x.numel() // x.shape[1] * conv.out_channels
    out = out // x.shape[2] * _output_frames(conv, x.shape[2])
    return max(x.numel(), out) > MAX_KERNEL_ELEMENTS


def conv3d_in_time_chunks(conv: nn.Conv3d, x: torch.Tensor, weight: torch.Tensor,
                          bias: torch.Tensor | None, max_elements: int) -> torch.Tensor:
    """conv(x) for (B, C, T, H, W), computed over chunks of output frames so that no kernel sees
    more than `max_elements` elements: each chunk reads its input frames plus the kernel's halo,
    zero-padded only where the clip itself ends. Same sums as one call (temporal stride and
    dilation 1 only; others fall back to one call)."""
    k, pad = conv.kernel_size[0], conv.padding[0]
    frames = x.shape[2]
    if conv.stride[0] != 1 or conv.dilation[0] != 1 or conv.padding_mode != "zeros":
        return F.conv3d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    out_frames = _output_frames(conv, frames)
    per_frame = max(x.numel() // frames, x.numel() // frames // x.shape[1] * conv.out_channels)
    chunk = max(1, max_elements // per_frame - (k - 1))                 # output frames per call
    spatial_padding = (0, *conv.padding[1:])
    outs = []
    for start in range(0, out_frames, chunk):
        stop = min(start + chunk, out_frames)
        first, last = start - pad, stop - 1 - pad + k                 # input frames [first, last)
        piece = x[:, :, max(first, 0):min(last, frames)]                # B C <=last-first H W
        piece = F.pad(piece, (0, 0, 0, 0, max(-first, 0), max(last - frames, 0)))  # B C last-first H W
        outs.append(F.conv3d(piece, weight, bias, conv.stride, spatial_padding, conv.dilation,
                             conv.groups))                              # B C_out stop-start H' W'
    return torch.cat(outs, dim=2)                                       # B C_out T' H' W'


def conv_nd(dims: int, c_in: int, c_out: int, kernel_size, stride=1, padding=0) -> nn.Module:
    """Conv2d for the content encoder, Conv3d for the video path."""
    conv = nn.Conv2d if dims == 2 else Conv3d
    return conv(c_in, c_out, kernel_size=kernel_size, stride=stride, padding=padding)


class Checkpointable(nn.Module):
    """A block whose `_forward` can be recomputed in backward to save activation memory.

    diffusers' `enable_gradient_checkpointing()` sets `gradient_checkpointing` and
    `_gradient_checkpointing_func` on every sub-module that has the attribute."""

    gradient_checkpointing: bool = False

    def _run(self, fn: Callable[..., torch.Tensor], *args: torch.Tensor) -> torch.Tensor:
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            return self._gradient_checkpointing_func(fn, *args)
        return fn(*args)


class ResnetBlock(Checkpointable):
    """GroupNorm-SiLU-conv twice plus a (1x1 conv when widths differ) shortcut; no time embedding."""

    def __init__(self, c_in: int, c_out: int, dims: int = 3) -> None:
        super().__init__()
        self.norm1 = normalize(c_in)
        self.conv1 = conv_nd(dims, c_in, c_out, 3, padding=1)
        self.norm2 = normalize(c_out)
        self.conv2 = conv_nd(dims, c_out, c_out, 3, padding=1)
        if c_in != c_out:
            self.nin_shortcut = conv_nd(dims, c_in, c_out, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # B C_in [T] H W -> B C_out [T] H W
        h = self.conv2(F.silu(self.norm2(h)))  # B C_out [T] H W; dropout(0.0) of the release omitted
        if hasattr(self, "nin_shortcut"):
            x = self.nin_shortcut(x)           # B C_out [T] H W
        return x + h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self._forward, x)


class Downsample(nn.Module):
    """Stride-2 conv after zero padding at the END only (right, bottom[, back]).

    The release pads asymmetrically (LDM habit), which shifts the sampling grid by half a pixel;
    reproduced for checkpoint parity (docs/architecture.md §7.11). `temporal=False` halves H, W only
    (kernel (1,3,3)); `temporal=True` also halves T (kernel 3, T padded at the back).
    """

    def __init__(self, channels: int, dims: int = 3, temporal: bool = False) -> None:
        super().__init__()
        if dims == 2:
            kernel, stride, self.pad = 3, 2, (0, 1, 0, 1)
        elif temporal:
            kernel, stride, self.pad = 3, 2, (0, 1, 0, 1, 0, 1)
        else:
            kernel, stride, self.pad = (1, 3, 3), (1, 2, 2), (0, 1, 0, 1, 0, 0)
        self.conv = conv_nd(dims, channels, channels, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # B C T H W -> B C T H/2 W/2 (temporal: B C T/2 H/2 W/2); 2D: B C H W -> B C H/2 W/2
        return self.conv(F.pad(x, self.pad))


class Upsample(nn.Module):
    """Nearest x2 (H, W, and T when `temporal`) then a 3x3x3 conv."""

    def __init__(self, channels: int, temporal: bool = False) -> None:
        super().__init__()
        self.scale = (2.0, 2.0, 2.0) if temporal else (1.0, 2.0, 2.0)
        self.conv = Conv3d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nearest_upsample(x, self.scale))  # B C T 2H 2W (temporal: B C 2T 2H 2W)


def nearest_upsample(x: torch.Tensor, scale: tuple[float, ...]) -> torch.Tensor:
    """F.interpolate(x, scale_factor=scale, mode="nearest") for B C T H W, computed in channel
    chunks when the output would pass MAX_KERNEL_ELEMENTS; bit-identical either way (nearest
    upsampling treats each channel on its own)."""
    out_elements = x.numel()
    for factor in scale:
        out_elements *= factor
    if out_elements <= MAX_KERNEL_ELEMENTS or x.shape[1] == 1:
        return F.interpolate(x, scale_factor=scale, mode="nearest")  # B C sT T sH H sW W
    per_channel = out_elements / x.shape[1]
    chunk = max(1, int(MAX_KERNEL_ELEMENTS // per_channel))
    return torch.cat([F.interpolate(part, scale_factor=scale, mode="nearest")  # B chunk sT T sH H sW W
                      for part in x.split(chunk, dim=1)], dim=1)
