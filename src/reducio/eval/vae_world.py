"""A Reducio-VAE on the synthetic shapes world (`reducio eval vae`): the numbers the built-in
`tiny` ships with.

For each split (default `test` and `heldout`, 64 clips each, clip indices 0..63 of the split):
- `psnr`, `ssim`: reconstruction with the posterior mode (`reducio.eval.psnr/ssim`, the release's
  way: clamp, per-frame score, mean over frames), the same numbers `reducio eval recon --vae PATH
  --synthetic SPLIT --count 64` reports;
- `content_copy_psnr/ssim`: the baseline of repeating the content frame (`vae.content_frame_index`)
  over all frames;
  a VAE that ignores its motion latent scores about this;
- `swap_psnr`: clip i decoded from its own content frame with clip (i+1)'s latent, scored against
  clip i; `swap_gap_db` = psnr - swap_psnr. A VAE that uses its latent loses clearly here.
- `by_background`: psnr / ssim per background colour. SSIM is most severe on black: its constant
  c1 = 1e-4 makes the luminance term fall fast when a black pixel comes back slightly grey.
  `object_mean_error`: the mean signed error (recon - clip, [-1, 1] scale) over object pixels
  (those not of the background colour): negative = objects come back darker. The release's
  outlier penalty pulls bright objects on dark backgrounds down (docs/train-vae.md).
- `flat_fraction`, `flat_rms_error`, `edge_rms_error`: RMS error on [0, 1] of the clamped
  reconstruction where the clip's 5 x 5 neighbourhood is one colour (flat) and elsewhere (edges);
  `outlier_penalty_of_clips`: the release's outlier penalty of the clips themselves.
- `prompt_following`: the shapes evaluator (the pipeline evaluation's measure) on the reconstructions against each
  clip's caption, overall and by object count: what a DiT generating these latents can reach at best;
  `shape_confusion` counts each expected shape, per background, by the shape seen.

    reducio eval vae --vae tiny -o runs/eval-vae-tiny.json
    reducio eval vae --vae runs/vae-tiny/checkpoints/step-00003000 --count 16

`--vae` takes anything `ReducioVAE.from_pretrained` does, or a training checkpoint folder
(`checkpoints/step-…`: its EMA weights when the run kept EMA, else the model's).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange

from reducio.data.synthetic.vocab import BACKGROUNDS
from reducio.data.synthetic.world import make_clip, sample_scene, seed_for
from reducio.eval.reconstruction import psnr, ssim
from reducio.eval.shapes import ShapeConfusion, ShapesAccuracy, ShapesEvaluator
from reducio.models.vae import ReducioVAE
from reducio.training.export import load_checkpoint_model
from reducio.training.vae_losses import outlier_penalty


def load_clips(split: str, count: int, size: int = 64) -> torch.Tensor:
    """(count, 3, T, S, S) in [-1, 1]: clips 0..count-1 of a shapes-world split."""
    clips = []
    for index in range(count):
        video = make_clip(index, split, size=size).video  # T H W 3 uint8
        clips.append(torch.from_numpy(video).permute(3, 0, 1, 2).float().div(127.5).sub(1.0))
    return torch.stack(clips)


def load_model(source: str) -> ReducioVAE:
    """A built-in name / folder / file, or a training checkpoint folder of `reducio train vae`."""
    path = Path(source)
    if path.is_dir() and (path / "state.json").is_file():
        return load_checkpoint(path)
    return ReducioVAE.from_pretrained(source).eval()


def load_checkpoint(folder: Path) -> ReducioVAE:
    """The VAE of a `checkpoints/step-…` folder: its EMA weights when the run kept EMA."""
    return load_checkpoint_model(folder)[0]


@torch.no_grad()
def encode_mode(vae: ReducioVAE, clips: torch.Tensor) -> torch.Tensor:
    """Normalised posterior-mode latents (B, C, t, h, w)."""
    return vae.normalize_latent(vae.encode(clips).latent_dist.mode())


@torch.no_grad()
def measure(vae: ReducioVAE, clips: torch.Tensor, batch: int = 4,
            backgrounds: list[str] | None = None, captions: list[str] | None = None) -> dict[str, float]:
    """The numbers of the module docstring for `clips` (B, 3, T, H, W) in [-1, 1], `batch` clips
    per forward pass."""
    content_index = vae.content_frame_index(clips.shape[2])
    uses_content = vae.config.content_frame != "none"   # Table 3's "none" decodes from the latent alone
    rec_psnr, rec_ssim, copy_psnr, copy_ssim, swap_psnr = [], [], [], [], []
    latents, recons = [], []
    for start in range(0, len(clips), batch):
        x = clips[start:start + batch]
        z = encode_mode(vae, x)
        content = x[:, :, content_index]  # B 3 H W
        recon = vae.decode(z, content if uses_content else None).sample
        latents.append(z)
        recons.append(recon)
        rec_psnr.append(psnr(x, recon))
        rec_ssim.append(ssim(x, recon))
        copy = content.unsqueeze(2).expand_as(x)
        copy_psnr.append(psnr(x, copy))
        copy_ssim.append(ssim(x, copy))
    z_all = torch.cat(latents)
    swapped = torch.roll(z_all, shifts=-1, dims=0)  # clip i gets clip i+1's latent
    for start in range(0, len(clips), batch):
        x = clips[start:start + batch]
        recon = vae.decode(swapped[start:start + batch], x[:, :, content_index] if uses_content else None).sample
        swap_psnr.append(psnr(x, recon))
    out = {name: torch.cat(values).mean().item() for name, values in (
        ("psnr", rec_psnr), ("ssim", rec_ssim), ("content_copy_psnr", copy_psnr),
        ("content_copy_ssim", copy_ssim), ("swap_psnr", swap_psnr))}
    out["swap_gap_db"] = out["psnr"] - out["swap_psnr"]
    out["psnr_min"] = torch.cat(rec_psnr).min().item()
    out.update(flat_and_edge_errors(clips, torch.cat(recons)))
    out["outlier_penalty_of_clips"] = outlier_penalty(clips).item()
    if backgrounds is not None:
        out["by_background"] = by_background(clips, torch.cat(recons), backgrounds,
                                             torch.cat(rec_psnr), torch.cat(rec_ssim))
    if captions is not None:
        out["prompt_following"] = prompt_following(torch.cat(recons), captions)
    out["clips"] = len(clips)
    return out


def prompt_following(recons: torch.Tensor, captions: list[str]) -> dict[str, dict]:
    """The shapes evaluator on the reconstructions, judged against each clip's own caption: the
    ceiling of any DiT that generates this VAE's latents (the pipeline evaluation's measure), overall and by the
    number of objects (`by_object_count`)."""
    evaluator, overall, by_count, confusion = ShapesEvaluator(), ShapesAccuracy(), {}, ShapeConfusion()
    for recon, text in zip(recons.clamp(-1.0, 1.0), captions):
        verdict = evaluator.evaluate(recon, text)
        overall.update(verdict)
        by_count.setdefault(str(len(verdict.objects)), ShapesAccuracy()).update(verdict)
        confusion.update(verdict)   # "square on white -> circle": which shapes come back as what
    return {"accuracy": overall.summary(),
            "by_object_count": {n: acc.summary() for n, acc in sorted(by_count.items())},
            "shape_confusion": confusion.summary()}


def flat_and_edge_errors(clips: torch.Tensor, recons: torch.Tensor) -> dict[str, float]:
    """RMS error (on [0, 1]) where the clip is locally flat (5 x 5, all channels) and elsewhere."""
    x = rearrange(clips.add(1.0).div(2.0), "b c t h w -> (b t) c h w")
    r = rearrange(recons.clamp(-1.0, 1.0).add(1.0).div(2.0), "b c t h w -> (b t) c h w")
    spread = F.max_pool2d(x, 5, 1, 2) + F.max_pool2d(-x, 5, 1, 2)               # local max - min
    flat = (spread.amax(dim=1, keepdim=True) < 1e-6).expand_as(x)
    error = (r - x).square()
    return {"flat_fraction": flat.float().mean().item(), "flat_rms_error": error[flat].mean().sqrt().item(),
            "edge_rms_error": error[~flat].mean().sqrt().item()}


def by_background(clips: torch.Tensor, recons: torch.Tensor, backgrounds: list[str],
                  per_psnr: torch.Tensor, per_ssim: torch.Tensor) -> dict[str, dict[str, float]]:
    """PSNR, SSIM and the signed error on object pixels, per background colour."""
    out = {}
    for name in sorted(set(backgrounds)):
        idx = [i for i, b in enumerate(backgrounds) if b == name]
        x, r = clips[idx], recons[idx].clamp(-1.0, 1.0)
        colour = torch.tensor(BACKGROUNDS[name], dtype=x.dtype).div(127.5).sub(1.0).view(1, 3, 1, 1, 1)
        objects = ((x - colour).abs().amax(dim=1, keepdim=True) > 0.1).expand_as(x)  # B 3 T H W
        out[name] = {"clips": len(idx), "psnr": per_psnr[idx].mean().item(), "ssim": per_ssim[idx].mean().item(),
                     "object_mean_error": (r - x)[objects].mean().item()}
    return out


def vae_world_split(vae: ReducioVAE, split: str, count: int, size: int = 64) -> dict[str, Any]:
    """`measure` over clips 0..count-1 of `split`, with their backgrounds and captions, and the
    seconds it took."""
    started = time.perf_counter()
    scenes = [sample_scene(seed_for(i, split), split, size=size) for i in range(count)]
    result = measure(vae, load_clips(split, count, size), backgrounds=[s.background for s in scenes],
                     captions=[s.caption for s in scenes])
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


__all__ = ["load_clips", "load_model", "measure", "vae_world_split"]
