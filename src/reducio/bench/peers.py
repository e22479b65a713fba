"""The video VAEs Reducio-VAE is compared with, built with random weights from diffusers' classes.

The default arguments of these diffusers classes are the released models' configs; `PUBLISHED`
holds the released config.json values we checked them against (source URLs below), and
`check_defaults` re-reads the class defaults at run time so a diffusers upgrade that changes a
default is caught and recorded, not silently benchmarked.

Frame counts: the causal peers take 1 + k * (temporal factor) frames (LTX-Video 8k+1, Wan 2.1 and
CogVideoX 4k+1); Reducio-VAE takes multiples of 16. For a 16-frame clip each peer gets the nearest
valid count, 17 (`valid_frames`), and the results say so.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from reducio.bench.isolate import BenchmarkError


@dataclass(frozen=True, kw_only=True)
class PeerVAE:
    key: str
    label: str
    class_name: str          # diffusers class
    frame_step: int          # valid frame counts: 1 + k * frame_step (k >= 1)
    published: dict[str, Any]
    source: str

    def valid_frames(self, requested: int) -> int:
        """The valid frame count nearest to `requested` (ties go to the longer clip)."""
        k = max(1, round((requested - 1) / self.frame_step))
        candidates = [1 + j * self.frame_step for j in (k - 1, k, k + 1) if j >= 1]
        return min(candidates, key=lambda f: (abs(f - requested), -f))

    def diffusers_class(self) -> type:
        import diffusers  # heavy: the peer VAEs' classes, imported only when one is built

        cls = getattr(diffusers, self.class_name, None)
        if cls is None:
            raise BenchmarkError(f"diffusers {diffusers.__version__} has no {self.class_name}; "
                                 f"the {self.label} comparison needs diffusers >= 0.33")
        return cls

    def class_defaults(self) -> dict[str, Any]:
        params = inspect.signature(self.diffusers_class().__init__).parameters
        return {name: p.default for name, p in params.items()
                if p.default is not inspect.Parameter.empty}

    def check_defaults(self) -> dict:
        """Compare the class defaults with the released config. Returns {"matches": bool,
        "mismatches": {key: {"default": d, "published": p}}, "source": url}."""
        defaults = self.class_defaults()
        mismatches = {}
        for key, value in self.published.items():
            default = defaults.get(key, "<absent>")
            if _norm(default) != _norm(value):
                mismatches[key] = {"default": _norm(default), "published": value}
        return {"matches": not mismatches, "mismatches": mismatches, "source": self.source}

    def build(self, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
        """Random weights, default (= released) config, eval mode, no tiling or slicing."""
        with torch.device(device):
            model = self.diffusers_class()()
        # `.to(float32)` on a float32 model is a no-op that makes diffusers warn; skip it
        return (model if dtype == torch.float32 else model.to(dtype=dtype)).eval()


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    return value


PEERS: dict[str, PeerVAE] = {
    "ltx-video": PeerVAE(
        key="ltx-video", label="LTX-Video VAE (0.9.0)", class_name="AutoencoderKLLTXVideo",
        frame_step=8,
        published={"block_out_channels": [128, 256, 512, 512], "latent_channels": 128,
                   "layers_per_block": [4, 3, 3, 3, 4], "patch_size": 4, "patch_size_t": 1,
                   "spatio_temporal_scaling": [True, True, True, False], "encoder_causal": True,
                   "decoder_causal": False, "resnet_norm_eps": 1e-6, "scaling_factor": 1.0},
        source="https://huggingface.co/Lightricks/LTX-Video/blob/c9f81cb99da0cfc6cbf095b6aaf06072bf26da76/vae/config.json"),
    "wan-2.1": PeerVAE(
        key="wan-2.1", label="Wan 2.1 VAE", class_name="AutoencoderKLWan", frame_step=4,
        published={"base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
                   "attn_scales": [], "temperal_downsample": [False, True, True],
                   "dropout": 0.0},
        source="https://huggingface.co/diffusers/Wan2.1-VAE/blob/main/config.json"),
    "cogvideox": PeerVAE(
        key="cogvideox", label="CogVideoX VAE", class_name="AutoencoderKLCogVideoX", frame_step=4,
        published={"block_out_channels": [128, 256, 256, 512], "latent_channels": 16,
                   "layers_per_block": 3, "norm_num_groups": 32, "norm_eps": 1e-6,
                   "temporal_compression_ratio": 4, "use_quant_conv": False,
                   "use_post_quant_conv": False, "scaling_factor": 1.15258426},
        source="https://huggingface.co/THUDM/CogVideoX-2b/blob/ad5ce8664edfdc95cdb9773dd4f80048b25f69ac/vae/config.json"),
}



def encode_peer(model: torch.nn.Module, video: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, H, W) in [-1, 1] -> posterior mode (B, C, t, h, w)."""
    return model.encode(video).latent_dist.mode()


def decode_peer(model: torch.nn.Module, latent: torch.Tensor) -> torch.Tensor:
    return model.decode(latent).sample
