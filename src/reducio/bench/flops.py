"""FLOPs: the DiT counted analytically, any model counted on the meta device, and the peak the
hardware reaches, so "achieved fraction of peak" has a stated denominator.

DiT forward FLOPs, one sample (a multiply-add = 2 FLOPs; only matmuls are counted: norms, adds,
softmax and GELU are a few per cent and memory-bound), with N video tokens, D width, F = mlp_ratio*D,
M cross-attention keys per block, depth L:

    per block:  self-attention projections   8 N D^2            (q, k, v, out)
                self-attention scores         4 N^2 D            ("3d"; QK^T and AV, all heads)
                  ("2d+1d": 4 N (h w) D spatial + 8 N D^2 + 4 N t D temporal)
                cross-attention               4 N D^2 + 4 M D^2 + 4 N M D
                MLP                           4 N D F
    once:       patch embed 2 N P D, final layer 2 N D P, timestep MLP and adaLN 2(256 D + 7 D^2),
                condition projections 2 L_c (d_c D + D^2) per condition (text, semantic, content).

M = text tokens + 1 null text + semantic tokens + 1 null image + content tokens (a quarter of them
when the Fig. 2 split is on). Masked keys are still computed, so they count. Training step = 3x the
forward (backward = 2x), 4x with gradient checkpointing. `tests/bench/test_flops.py` checks the
formula against torch's FlopCounterMode on the real module.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from reducio.bench.env import dtype_name, synchronize
from reducio.models.dit import DiTConfig

# Dense (no sparsity) tensor-core peaks from the vendors' data sheets, TFLOP/s, by GPU name
# substring (first match wins; order matters: "H100 PCIe" before "H100").
GPU_PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"bf16": 989.4, "fp16": 989.4, "fp32": 67.0, "tf32": 494.7}),
    ("H100 PCIe", {"bf16": 756.0, "fp16": 756.0, "fp32": 51.2, "tf32": 378.0}),
    ("H100", {"bf16": 989.4, "fp16": 989.4, "fp32": 67.0, "tf32": 494.7}),
    ("A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5, "tf32": 156.0}),
    ("L40S", {"bf16": 362.1, "fp16": 362.1, "fp32": 91.6, "tf32": 183.0}),
    ("A10", {"bf16": 125.0, "fp16": 125.0, "fp32": 31.2, "tf32": 62.5}),
)


@dataclass(frozen=True, kw_only=True)
class DiTFlops:
    """Forward FLOPs of one DiT call, split by part (all for the whole batch)."""

    tokens: int
    context_tokens: int  # M, average over blocks
    self_attn_proj: float
    self_attn_scores: float
    cross_attn: float
    mlp: float
    embed: float  # patch embed, final layer, timestep, condition projections

    @property
    def total(self) -> float:
        return (self.self_attn_proj + self.self_attn_scores + self.cross_attn + self.mlp
                + self.embed)

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "context_tokens": self.context_tokens,
                "self_attn_proj": self.self_attn_proj, "self_attn_scores": self.self_attn_scores,
                "cross_attn": self.cross_attn, "mlp": self.mlp, "embed": self.embed,
                "total": self.total}


def content_tokens(config: DiTConfig, height: int, width: int) -> tuple[int, bool]:
    """(content tokens in the full grid, split on?) for a clip of height x width pixels (the
    content latent is H/8 x W/8, cut into content_patch_size patches)."""
    if config.content_channels is None:
        return 0, False
    p = config.content_patch_size
    n = (height // 8 // p) * (width // 8 // p)
    split = config.content_split_threshold is not None and n > config.content_split_threshold
    return n, split


def dit_forward_flops(config: DiTConfig, grid: tuple[int, int, int], *, batch: int = 1,
                      text_tokens: int = 0, semantic_tokens: int = 0,
                      content_hw: tuple[int, int] | None = None,
                      content_split: bool | None = None) -> DiTFlops:
    """Analytic forward FLOPs for latent token grid (t, h, w) after patchify (see module doc).

    text_tokens / semantic_tokens: condition lengths given to forward (0 = not given);
    content_hw: the clip's pixel size when a content latent is given (None = no content).
    """
    t, h, w = grid
    n, d, f = t * h * w, config.hidden_size, config.mlp_hidden_size
    depth = config.depth

    shared = 0                                   # keys every block sees
    embed = 2 * (config.timestep_freq_dim * d + d * d) + 2 * d * 6 * d
    if config.text_dim is not None:
        shared += text_tokens + 1                # + learned null text
        embed += 2 * text_tokens * (config.text_dim * d + d * d)
    if config.semantic_dim is not None and semantic_tokens:
        shared += semantic_tokens
        embed += 2 * semantic_tokens * (config.semantic_dim * d + d * d)
    if config.has_image:
        shared += 1                              # learned null image
    per_layer_content = [0] * depth
    if content_hw is not None and config.content_channels is not None:
        nc, auto_split = content_tokens(config, *content_hw)
        split = auto_split if content_split is None else content_split
        embed += 2 * nc * (config.content_patch_dim * d + d * d)
        per_layer_content = [nc // 4 if split else nc] * depth
    has_context = config.text_dim is not None or config.has_image
    patch = config.patch_dim
    embed += 2 * n * patch * d + 2 * n * d * patch

    proj = scores = cross = mlp = 0.0
    for layer in range(depth):
        proj += 8 * n * d * d
        if config.attention == "3d":
            scores += 4 * n * n * d
        else:
            scores += 4 * n * (h * w) * d + 4 * n * t * d
            proj += 8 * n * d * d
        if has_context:
            m = shared + per_layer_content[layer]
            cross += 4 * n * d * d + 4 * m * d * d + 4 * n * m * d
        mlp += 4 * n * d * f
    mean_m = (shared + sum(per_layer_content) / depth) if has_context else 0
    return DiTFlops(tokens=n, context_tokens=int(round(mean_m)),
                    self_attn_proj=batch * proj, self_attn_scores=batch * scores,
                    cross_attn=batch * cross, mlp=batch * mlp, embed=batch * embed)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs torch's FlopCounterMode sees in fn() (matmuls, convolutions, attention). Run it on
    meta tensors to count a model that would not fit or would take minutes to run."""
    # The math SDPA backend decomposes attention into bmm/softmax, which the counter sees; the
    # fused CPU kernels are not registered with FlopCounterMode and would count as 0.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass(frozen=True, kw_only=True)
class PeakEstimate:
    """The denominator of 'fraction of peak'. GPU: the data sheet for a known GPU, else the
    measured matmul (wall). CPU: the measured matmul per process CPU second, compared with the
    model's FLOPs per process CPU second, so time the scheduler gave to other processes on a
    shared machine counts on neither side."""

    measured_wall_tflops: float
    measured_cpu_tflops: float
    kernel: str
    datasheet_tflops: float | None
    matmul_size: int
    dtype: str
    basis: str  # "wall" | "cpu"

    @property
    def tflops(self) -> float:
        if self.datasheet_tflops:
            return self.datasheet_tflops
        return self.measured_cpu_tflops if self.basis == "cpu" else self.measured_wall_tflops

    @property
    def source(self) -> str:
        if self.datasheet_tflops:
            return f"data sheet, dense {self.dtype}"
        per = "process CPU second" if self.basis == "cpu" else "second"
        return f"measured {self.matmul_size}^2 {self.dtype} {self.kernel}, FLOPs per {per}"

    def to_dict(self) -> dict:
        return {"measured_matmul_wall_tflops": self.measured_wall_tflops,
                "measured_matmul_cpu_tflops": self.measured_cpu_tflops, "kernel": self.kernel,
                "datasheet_tflops": self.datasheet_tflops, "matmul_size": self.matmul_size,
                "dtype": self.dtype, "basis": self.basis, "used_tflops": self.tflops,
                "source": self.source}


def datasheet_peak(gpu_name: str | None, dtype: str) -> float | None:
    if not gpu_name:
        return None
    for key, table in GPU_PEAK_TFLOPS:
        if key.lower() in gpu_name.lower():
            return table.get(dtype)
    return None


def measure_matmul_peak(device: torch.device | str, dtype: torch.dtype, *, size: int = 1024,
                        seconds: float = 1.0) -> dict[str, Any]:
    """TFLOP/s of repeated size^3 matrix products for about `seconds`, best batch of the better
    kernel: the practical peak this process gets on this device right now.

    Both `torch.matmul` and `F.linear` are tried: on CPUs without native bf16 the matmul fallback
    is ~10x slower than the oneDNN linear kernel the models actually use (measured on AVX2).
    Returns {"wall": FLOPs / wall second, "cpu": FLOPs / process CPU second, "kernel": name}. On a
    shared CPU the wall figure drops whenever the scheduler runs someone else; the CPU-time
    figure is the throughput of the cores while they were ours (per core-second with one thread).
    """
    device = torch.device(device)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    flops = 2 * size**3
    best: dict[str, Any] = {"wall": 0.0, "cpu": 0.0, "kernel": ""}
    for kernel, fn in (("matmul", lambda: torch.matmul(a, b)), ("linear", lambda: F.linear(a, b))):
        fn()                                             # warm-up (kernel selection, caches)
        synchronize(device)
        best_wall = best_cpu = math.inf
        deadline = time.perf_counter() + seconds / 2
        while True:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(4):
                fn()
            synchronize(device)
            best_wall = min(best_wall, (time.perf_counter() - t0) / 4)
            best_cpu = min(best_cpu, max(time.process_time() - c0, 1e-9) / 4)
            if time.perf_counter() > deadline:
                break
        # GPUs are judged by wall time (the host CPU idles while it waits), CPUs by CPU time
        score = (flops / best_wall) if device.type == "cuda" else (flops / best_cpu)
        if score / 1e12 > (best["wall"] if device.type == "cuda" else best["cpu"]):
            best = {"wall": flops / best_wall / 1e12, "cpu": flops / best_cpu / 1e12,
                    "kernel": kernel}
    return best


def peak_estimate(device: torch.device | str, dtype: torch.dtype, *, gpu_name: str | None = None,
                  size: int | None = None, seconds: float = 1.0) -> PeakEstimate:
    """Measure the matmul peak here and now; look up the data sheet (GPU only)."""
    device = torch.device(device)
    size = size or (8192 if device.type == "cuda" else 1024)
    measured = measure_matmul_peak(device, dtype, size=size, seconds=seconds)
    name = dtype_name(dtype)
    sheet = datasheet_peak(gpu_name, name) if device.type == "cuda" else None
    return PeakEstimate(measured_wall_tflops=measured["wall"], measured_cpu_tflops=measured["cpu"],
                        kernel=measured["kernel"], datasheet_tflops=sheet, matmul_size=size,
                        dtype=name, basis="wall" if device.type == "cuda" else "cpu")
